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
# # Eye-state classification (OCEC), step by step
#
# One small training run on the built-in synthetic eye crops (open / closed):
#
# 1. compose the training config in Python, with the same overrides `ocec-train` takes on
#    the command line (Chinese option names such as `aug=激进` are typed as they are);
# 2. look at validation crops, and at what each augmentation preset does to them;
# 3. summarise the model;
# 4. train for a few epochs and plot the per-epoch curves;
# 5. read the curve report the run writes after fitting;
# 6. compare the learning-rate schedules of two training plans without training either.
#
# Everything the run writes goes under `RUN_DIR` (set in the next cell).

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
EPOCHS = 2 if SMALL else 15
BATCH = 32 if SMALL else 256
N_SHOW = 6 if SMALL else 8  # crops per preview row
PRESETS = "保守,激进" if SMALL else "all"  # augmentation presets to preview
RUN_DIR = OUT / "01_classification"
print(f"SMALL={SMALL} OUT={OUT}")

# %% [markdown]
# ## The config
# `compose_config` builds the config a run would use from `conf/` and a list of overrides,
# exactly as `ocec-train` does with its command-line arguments. Here: the aggressive
# augmentation preset (激进), a small synthetic dataset, no loader worker processes and no
# progress bar (its live redraw does not suit a notebook's output).

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, Markdown, display
from omegaconf import OmegaConf

from ocec_lightning.config import compose_config

OVERRIDES = [
    "aug=激进",  # a real option name, no quotes needed
    f"data.source.num_samples={NUM_SAMPLES}",
    f"data.batch_size={BATCH}",
    "data.num_workers=0",
    f"trainer.max_epochs={EPOCHS}",
    "callbacks.progress_bar=null",
]
cfg = compose_config(OVERRIDES, output_dir=RUN_DIR / f"run_{STAMP}")
print("batch-level augmentation:")
print(OmegaConf.to_yaml(cfg.aug.batch))
print("model:", cfg.model._target_, "| loss:", cfg.loss._target_)

# %% [markdown]
# ## Validation crops
# The fixed validation crops that the run's own figures use, before augmentation, with
# their labels.

# %%
from ocec_lightning.data import build_datamodule

dm = build_datamodule(cfg)
dm.setup("fit")
print(dm.split_counts)
raw, _, labels = dm.fixed_val_samples(N_SHOW)
fig, axes = plt.subplots(1, len(raw), figsize=(1.6 * len(raw), 1.2))
for ax, image, label in zip(axes, raw.numpy(), labels.tolist(), strict=True):
    ax.imshow(image)
    ax.set_title(cfg.task.class_names[label], fontsize=8)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## What each augmentation preset does
# One block per preset (保守 conservative, 平衡 balanced, 激进 aggressive, ...): the same
# crops on the first row, then two random draws of the training transform that the
# DataModule really applies. `ocec-data show-aug` writes the same figure to a PNG.

# %%
from ocec_lightning.data.aug_preview import preview_presets, render_grid

base = [o for o in OVERRIDES if not o.startswith("aug=")]
previews, preview_cfg = preview_presets(base, PRESETS, n=N_SHOW, draws=2)
render_grid(previews, preview_cfg)
plt.show()

# %% [markdown]
# ## The model
# The LightningModule the run trains (backbone, head and loss), two levels deep, with
# parameter counts.

# %%
from lightning.pytorch.utilities.model_summary import ModelSummary

from ocec_lightning.validation import build_task

print(ModelSummary(build_task(cfg), max_depth=2))

# %% [markdown]
# ## A short fit
# `run_training` is what `ocec-train` runs: it fits, tests the best checkpoint and returns
# the run directory, the best validation score and the test metrics.

# %%
from ocec_lightning.training import run_training

result = run_training(cfg)
run_dir = Path(result.run_dir)
result.best_score, result.test_metrics

# %% [markdown]
# ## Training curves
# Loss and F1 per epoch, read from the run's `csv/metrics.csv` (written whatever logger
# the run uses).

# %%
metrics = pd.read_csv(run_dir / "csv" / "metrics.csv")
per_epoch = metrics.groupby("epoch").last()
cols = [c for c in ("train/loss_epoch", "val/loss", "val/f1") if c in per_epoch]
per_epoch[cols].plot(marker="o", subplots=True, figsize=(6, 5), title="per epoch")
plt.show()
per_epoch[cols]

# %% [markdown]
# ## The curve report
# After the fit the run writes `analysis.md` and `analysis.png`: what its curves show
# (over- or under-fitting, a learning rate too high or too low, ...) and what to try next.
# `ocec-analyze curves <run dir>` writes the same report for any run.

# %%
display(Markdown((run_dir / "analysis.md").read_text(encoding="utf-8")[:3000]))
display(Image(filename=str(run_dir / "analysis.png"), width=800))

# %% [markdown]
# ## Two learning-rate plans, compared before training
# The learning rate at every step, replayed through the real optimizer, warmup and
# scheduler, for two 30-epoch plans: cosine decay after a 3-epoch warmup, and the balanced
# recipe (平衡: AdamW with the LR cut by 0.7 when validation stops improving). Nothing is
# trained. `ocec-analyze lr <overrides> --vs "<overrides>"` draws the same figure.

# %%
from ocec_lightning.analysis.lr.preview import preview

common = [
    f"data.source.num_samples={NUM_SAMPLES}",
    f"data.batch_size={BATCH}",
    "trainer.max_epochs=30",
]
cosine_plan = [*common, "scheduler=cosine", "scheduler.warmup.epochs=3"]
balanced_plan = [*common, "preset=平衡", "trainer.max_epochs=30"]
plans = preview([cosine_plan, balanced_plan], out=RUN_DIR / "lr_preview.png")
display(Image(filename=str(RUN_DIR / "lr_preview.png"), width=800))
