# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # From checkpoint to ONNX: export, parity, latency, predict
#
# 1. train a tiny OCEC eye-state model to get a checkpoint;
# 2. export it to one ONNX file, checking that onnxruntime gives the same outputs as
#    PyTorch (the parity check);
# 3. read the metadata stored in the file and time onnxruntime at batch 1 and 64;
# 4. predict a folder of crops and compare with their labels.
#
# Steps 2 and 4 call the Python functions behind `ocec-export` and `ocec-predict`; the
# README shows the same steps as shell commands. Everything is written under `RUN_DIR`
# (set in the next cell).

# %%
# Sizes: the one cell to edit. OCEC_NOTEBOOK_SMALL=1 shrinks the data and the run to a
# few seconds (the test suite runs every notebook that way); OCEC_NOTEBOOK_OUT moves the
# outputs (the tests point it at a temporary directory).
import os
import time
from pathlib import Path

SMALL = os.environ.get("OCEC_NOTEBOOK_SMALL") == "1"
OUT = Path(os.environ.get("OCEC_NOTEBOOK_OUT", "outputs/notebooks")).resolve()
# A new run directory per execution: a run refuses a directory that holds checkpoints.
STAMP = time.strftime("%Y-%m-%d_%H-%M-%S")
NUM_SAMPLES = 240 if SMALL else 12000  # synthetic eye crops, split into train/val/test
EPOCHS = 1 if SMALL else 10
BATCH = 32 if SMALL else 256
N_CROPS = 16 if SMALL else 200  # crops written to the folder that is predicted
REPEATS = 5 if SMALL else 50  # latency repetitions
# Small: a few batches and no test pass, just enough for a checkpoint.
TINY_RUN = ["trainer.limit_train_batches=2", "trainer.limit_val_batches=1", "test=false"]
FAST = TINY_RUN if SMALL else []
RUN_DIR = OUT / "03_export"
print(f"SMALL={SMALL} OUT={OUT}")

# %% [markdown]
# ## A checkpoint to export
# A short training run (`run_training`, what `ocec-train` runs) without the curve report;
# its best checkpoint is exported below.

# %%
import numpy as np
import pandas as pd
from PIL import Image as PILImage

from ocec_lightning.config import compose_config
from ocec_lightning.training import run_training

cfg = compose_config(
    [
        f"data.source.num_samples={NUM_SAMPLES}",
        f"data.batch_size={BATCH}",
        "data.num_workers=0",
        f"trainer.max_epochs={EPOCHS}",
        "callbacks.progress_bar=null",
        "callbacks.curve_report=null",
        *FAST,
    ],
    output_dir=RUN_DIR / f"run_{STAMP}",
)
result = run_training(cfg)
ckpt = result.best_checkpoint or result.last_checkpoint
ckpt

# %% [markdown]
# ## Export and parity check
# The checkpoint's model (its EMA weights when the run kept an exponential moving
# average) becomes one ONNX file, with the preprocessing and class names in its metadata.
# The export then runs PyTorch and onnxruntime on the same random inputs and validation
# crops, and fails if their outputs differ by more than the tolerance.

# %%
from ocec_lightning.export.pipeline import export_checkpoint, summary_line

onnx_path = RUN_DIR / "ocec.onnx"
exported = export_checkpoint(ckpt, out=onnx_path)
print(summary_line(exported))

# %% [markdown]
# ## Metadata and onnxruntime latency
# What a deployment reads from the file, then the time per batch and per image at batch
# 1 and 64 on this machine's CPU.

# %%
import onnxruntime as ort

session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
meta = session.get_modelmeta().custom_metadata_map
print({k: (v if len(v) < 80 else v[:77] + "...") for k, v in meta.items()})
name = session.get_inputs()[0].name
h, w = cfg.data.image_size
rows = []
for batch in (1, 64):
    x = np.random.default_rng(0).random((batch, 3, h, w), dtype=np.float32)
    session.run(None, {name: x})  # warm-up
    start = time.perf_counter()
    for _ in range(REPEATS):
        session.run(None, {name: x})
    ms = 1000 * (time.perf_counter() - start) / REPEATS
    rows.append({"batch": batch, "ms / batch": round(ms, 3), "ms / image": round(ms / batch, 4)})
pd.DataFrame(rows)

# %% [markdown]
# ## Predict a folder of crops
# Validation crops saved as PNG files, predicted from the ONNX file with the same
# preprocessing as validation; the table puts each prediction beside the crop's label.

# %%
from ocec_lightning.data import build_datamodule
from ocec_lightning.export.predict import load_predictor, predict

dm = build_datamodule(cfg)
dm.setup("fit")
raw, _, labels = dm.fixed_val_samples(N_CROPS)
crops = RUN_DIR / "crops"
crops.mkdir(parents=True, exist_ok=True)
truth = {}
for i, (image, label) in enumerate(zip(raw.numpy(), labels.tolist(), strict=True)):
    PILImage.fromarray(image).save(crops / f"crop_{i:03d}.png")
    truth[f"crop_{i:03d}.png"] = cfg.task.class_names[label]
out_csv = RUN_DIR / "predictions.csv"
done = predict(load_predictor(onnx=str(onnx_path)), crops, out_csv, progress=False)
print(f"predicted {done['count']} crops -> {done['csv']}")
pred = pd.read_csv(out_csv)
pred["truth"] = [truth.get(Path(p).name) for p in pred["path"]]
pred.head(10)
