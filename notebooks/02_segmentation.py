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
# # Face parsing (MicroSegFormer), step by step
#
# One small segmentation run on the built-in synthetic faces (11 LaPa-style classes:
# background, skin, brows, eyes, nose, lips, mouth, hair):
#
# 1. compose the config with `task=segmentation` and the balanced augmentation preset;
# 2. look at validation images with their masks, and at how many pixels each class has;
# 3. see augmentation move image and mask together;
# 4. train briefly;
# 5. look at the prediction overlays the run draws and at its per-class test metrics.
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
NUM_SAMPLES = 48 if SMALL else 1200  # synthetic faces, split into train/val/test
EPOCHS = 1 if SMALL else 20
SIZE = 64 if SMALL else 128  # image side in pixels
BATCH = 8 if SMALL else 32
N_SHOW = 4 if SMALL else 6  # images per preview row
RUN_DIR = OUT / "02_segmentation"
print(f"SMALL={SMALL} OUT={OUT}")

# %% [markdown]
# ## The config
# The same overrides `ocec-train` would take: the segmentation task (MicroSegFormer with
# cross-entropy + Dice loss), the balanced augmentation preset (平衡), small images, and
# prediction overlays drawn after every epoch. The class ids and names follow.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Image, display

from ocec_lightning.config import compose_config
from ocec_lightning.data import build_datamodule
from ocec_lightning.viz.overlays import check_palette, overlay

OVERRIDES = [
    "task=segmentation",
    "aug=平衡",
    f"data.source.num_samples={NUM_SAMPLES}",
    f"data.image_size=[{SIZE},{SIZE}]",
    f"data.batch_size={BATCH}",
    "data.num_workers=0",
    f"trainer.max_epochs={EPOCHS}",
    "callbacks.progress_bar=null",
    "callbacks.prediction_overlays.every_n_epochs=1",
]
cfg = compose_config(OVERRIDES, output_dir=RUN_DIR / f"run_{STAMP}")
palette = check_palette(cfg.task.palette)
dict(enumerate(cfg.task.class_names))

# %% [markdown]
# ## Images and their masks
# The fixed validation images (top) with their ground-truth masks drawn over them
# (bottom), then each class's share of the training pixels (brows and eyes are small, so
# they are the hard classes to learn).

# %%
dm = build_datamodule(cfg)
dm.setup("fit")
raw, _, masks = dm.fixed_val_samples(N_SHOW)
fig, axes = plt.subplots(2, len(raw), figsize=(2.2 * len(raw), 4.4))
for i, (image, mask) in enumerate(zip(raw.numpy(), masks.numpy().astype(np.uint8), strict=True)):
    axes[0, i].imshow(image)
    axes[1, i].imshow(overlay(image, mask, palette))
    axes[0, i].axis("off")
    axes[1, i].axis("off")
axes[0, 0].set_title("image", fontsize=8)
axes[1, 0].set_title("mask", fontsize=8)
plt.show()
pixel_share = dm.class_pixel_frequencies()
pd.Series(pixel_share, index=cfg.task.class_names, name="train pixel share").round(4)

# %% [markdown]
# ## Augmentation moves image and mask together
# Two random draws of the training transform on the same images. A horizontal flip also
# swaps the left and right class ids (left eye becomes right eye), so the mask stays true.

# %%
from ocec_lightning.data.aug_preview import preview_config, render_grid

render_grid([preview_config(cfg, n=N_SHOW, draws=2, preset="平衡")], cfg)
plt.show()

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
# ## Prediction overlays
# For the fixed validation images: the image, the ground truth and the model's
# prediction, as the run drew them after its last epoch (`overlays/` in the run
# directory).

# %%
latest = sorted((run_dir / "overlays").glob("epoch_*.png"))[-1]
print(latest.name)
display(Image(filename=str(latest), width=420))

# %% [markdown]
# ## Per-class metrics
# F1, IoU and pixel count of every class on the test split, from the best checkpoint
# (`per_class_metrics_test.csv` in the run directory).

# %%
table = pd.read_csv(run_dir / "per_class_metrics_test.csv")
table.round(3)
