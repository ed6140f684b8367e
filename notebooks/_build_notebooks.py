"""Regenerate the notebooks from these cell lists (outputs stripped):
`.venv/bin/python notebooks/_build_notebooks.py`. Edit here or in Jupyter; either way
commit them without outputs (`python notebooks/_build_notebooks.py --strip` strips
every notebook in place; tests/notebooks checks it)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETTINGS = """# Size settings: the ONE cell to edit. The test suite runs every notebook with
# OCEC_NOTEBOOK_SMALL=1 (tiny data, 1-2 epochs) and OCEC_NOTEBOOK_OUT=<tmp dir>.
import os
import time
from pathlib import Path

SMALL = os.environ.get("OCEC_NOTEBOOK_SMALL") == "1"
OUT = Path(os.environ.get("OCEC_NOTEBOOK_OUT", "outputs/notebooks")).resolve()
# A new run directory per execution: a run refuses a directory that holds checkpoints.
STAMP = time.strftime("%Y-%m-%d_%H-%M-%S")
{body}
print(f"SMALL={{SMALL}} OUT={{OUT}}")"""

CLASSIFICATION = [
    new_markdown_cell(
        "# OCEC eye-state classification\n"
        "Compose a config with the package's helper (Chinese option names as typed), look at "
        "samples and at what each augmentation preset does to them, summarise the model, "
        "train briefly, then read the curves, the curve report and the LR preview of two plans."
    ),
    new_code_cell(
        SETTINGS.format(
            body="NUM_SAMPLES = 240 if SMALL else 12000\n"
            "EPOCHS = 2 if SMALL else 15\n"
            "BATCH = 32 if SMALL else 256\n"
            "N_SHOW = 6 if SMALL else 8          # samples per preview row\n"
            'PRESETS = "保守,激进" if SMALL else "all"   # aug presets to preview\n'
            'RUN_DIR = OUT / "01_classification"'
        )
    ),
    new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "import pandas as pd\n"
        "from IPython.display import Image, Markdown, display\n"
        "from omegaconf import OmegaConf\n\n"
        "from ocec_lightning.config import compose_config\n\n"
        "OVERRIDES = [\n"
        '    "aug=激进",  # a real option name, no quotes needed\n'
        '    f"data.source.num_samples={NUM_SAMPLES}",\n'
        '    f"data.batch_size={BATCH}",\n'
        '    "data.num_workers=0",\n'
        '    f"trainer.max_epochs={EPOCHS}",\n'
        '    "callbacks.progress_bar=null",\n'
        "]\n"
        'cfg = compose_config(OVERRIDES, output_dir=RUN_DIR / f"run_{STAMP}")\n'
        'print(OmegaConf.to_yaml(cfg.aug.batch), "model:", cfg.model._target_, "| loss:", cfg.loss._target_)'
    ),
    new_markdown_cell("## Samples (fixed validation crops)"),
    new_code_cell(
        "from ocec_lightning.data import build_datamodule\n\n"
        "dm = build_datamodule(cfg)\n"
        'dm.setup("fit")\n'
        "print(dm.split_counts)\n"
        "raw, _, labels = dm.fixed_val_samples(N_SHOW)\n"
        "fig, axes = plt.subplots(1, len(raw), figsize=(1.6 * len(raw), 1.2))\n"
        "for ax, image, label in zip(axes, raw.numpy(), labels.tolist()):\n"
        "    ax.imshow(image)\n"
        "    ax.set_title(cfg.task.class_names[label], fontsize=8)\n"
        '    ax.axis("off")\n'
        "plt.show()"
    ),
    new_markdown_cell(
        "## Augmented samples per preset\n"
        "The DataModule's own train transform, drawn three times on the same crops "
        "(`ocec-data show-aug` writes the same figure to a PNG)."
    ),
    new_code_cell(
        "from ocec_lightning.data.aug_preview import preview_presets, render_grid\n\n"
        'base = [o for o in OVERRIDES if not o.startswith("aug=")]\n'
        "previews, preview_cfg = preview_presets(base, PRESETS, n=N_SHOW, draws=2)\n"
        "render_grid(previews, preview_cfg)\n"
        "plt.show()"
    ),
    new_markdown_cell("## The model"),
    new_code_cell(
        "from lightning.pytorch.utilities.model_summary import ModelSummary\n\n"
        "from ocec_lightning.training import build_run\n\n"
        "run = build_run(cfg)\n"
        "print(ModelSummary(run.task, max_depth=2))"
    ),
    new_markdown_cell("## A short fit"),
    new_code_cell(
        "from ocec_lightning.training import run_training\n\n"
        "result = run_training(cfg)\n"
        "run_dir = Path(result.run_dir)\n"
        "result.best_score, result.test_metrics"
    ),
    new_markdown_cell("## Curves (csv/metrics.csv of the run)"),
    new_code_cell(
        'metrics = pd.read_csv(run_dir / "csv" / "metrics.csv")\n'
        'per_epoch = metrics.groupby("epoch").last()\n'
        'cols = [c for c in ("train/loss_epoch", "val/loss", "val/f1") if c in per_epoch]\n'
        'per_epoch[cols].plot(marker="o", subplots=True, figsize=(6, 5), title="per epoch")\n'
        "plt.show()\n"
        "per_epoch[cols]"
    ),
    new_markdown_cell(
        "## The curve report (`analysis.md` / `analysis.png`, written after the fit)"
    ),
    new_code_cell(
        'display(Markdown((run_dir / "analysis.md").read_text(encoding="utf-8")[:3000]))\n'
        'display(Image(filename=str(run_dir / "analysis.png"), width=800))'
    ),
    new_markdown_cell(
        "## LR preview of two plans\n"
        "The exact per-step LR of the real optimizer + warmup + scheduler, as "
        "`ocec-analyze lr ... --vs ...` computes it."
    ),
    new_code_cell(
        "from ocec_lightning.analysis.lr_preview import preview\n\n"
        'common = [f"data.source.num_samples={NUM_SAMPLES}", f"data.batch_size={BATCH}", '
        '"trainer.max_epochs=30"]\n'
        "plans = preview(\n"
        '    [[*common, "scheduler=cosine", "scheduler.warmup.epochs=3"], [*common, "preset=平衡", "trainer.max_epochs=30"]],\n'
        '    out=RUN_DIR / "lr_preview.png",\n'
        ")\n"
        'display(Image(filename=str(RUN_DIR / "lr_preview.png"), width=800))'
    ),
]

SEGMENTATION = [
    new_markdown_cell(
        "# Face parsing (MicroSegFormer)\n"
        "Samples with their masks, augmentation with the masks moving along, a short fit, the "
        "prediction overlays the run wrote and the per-class table."
    ),
    new_code_cell(
        SETTINGS.format(
            body="NUM_SAMPLES = 48 if SMALL else 1200\n"
            "EPOCHS = 1 if SMALL else 20\n"
            "SIZE = 64 if SMALL else 128\n"
            "BATCH = 8 if SMALL else 32\n"
            "N_SHOW = 4 if SMALL else 6\n"
            'RUN_DIR = OUT / "02_segmentation"'
        )
    ),
    new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "import numpy as np\n"
        "import pandas as pd\n"
        "from IPython.display import Image, display\n\n"
        "from ocec_lightning.callbacks.prediction_overlays import check_palette, overlay\n"
        "from ocec_lightning.config import compose_config\n"
        "from ocec_lightning.data import build_datamodule\n\n"
        "OVERRIDES = [\n"
        '    "task=segmentation",\n'
        '    "aug=平衡",\n'
        '    f"data.source.num_samples={NUM_SAMPLES}",\n'
        '    f"data.image_size=[{SIZE},{SIZE}]",\n'
        '    f"data.batch_size={BATCH}",\n'
        '    "data.num_workers=0",\n'
        '    f"trainer.max_epochs={EPOCHS}",\n'
        '    "callbacks.progress_bar=null",\n'
        '    "callbacks.prediction_overlays.every_n_epochs=1",\n'
        "]\n"
        'cfg = compose_config(OVERRIDES, output_dir=RUN_DIR / f"run_{STAMP}")\n'
        "palette = check_palette(cfg.task.palette)\n"
        "dict(enumerate(cfg.task.class_names))"
    ),
    new_markdown_cell("## Samples with masks"),
    new_code_cell(
        "dm = build_datamodule(cfg)\n"
        'dm.setup("fit")\n'
        "raw, _, masks = dm.fixed_val_samples(N_SHOW)\n"
        "fig, axes = plt.subplots(2, len(raw), figsize=(2.2 * len(raw), 4.4))\n"
        "for i, (image, mask) in enumerate(zip(raw.numpy(), masks.numpy().astype(np.uint8))):\n"
        "    axes[0, i].imshow(image)\n"
        "    axes[1, i].imshow(overlay(image, mask, palette))\n"
        '    axes[0, i].axis("off"); axes[1, i].axis("off")\n'
        'axes[0, 0].set_title("image", fontsize=8); axes[1, 0].set_title("mask", fontsize=8)\n'
        "plt.show()\n"
        'pd.Series(dm.class_pixel_frequencies(), index=cfg.task.class_names, name="train pixel share").round(4)'
    ),
    new_markdown_cell(
        "## Augmented samples (image and mask move together; flips swap left/right ids)"
    ),
    new_code_cell(
        "from ocec_lightning.data.aug_preview import preview_config, render_grid\n\n"
        'render_grid([preview_config(cfg, n=N_SHOW, draws=2, preset="平衡")], cfg)\n'
        "plt.show()"
    ),
    new_markdown_cell("## A short fit"),
    new_code_cell(
        "from ocec_lightning.training import run_training\n\n"
        "result = run_training(cfg)\n"
        "run_dir = Path(result.run_dir)\n"
        "result.best_score, result.test_metrics"
    ),
    new_markdown_cell("## Overlays: image | ground truth | prediction (fixed validation images)"),
    new_code_cell(
        'latest = sorted((run_dir / "overlays").glob("epoch_*.png"))[-1]\n'
        "print(latest.name)\n"
        "display(Image(filename=str(latest), width=420))"
    ),
    new_markdown_cell("## Per-class table (test split of the best checkpoint)"),
    new_code_cell('table = pd.read_csv(run_dir / "per_class_metrics_test.csv")\ntable.round(3)'),
]

EXPORT = [
    new_markdown_cell(
        "# Export, parity, latency, predict\n"
        "Train a tiny OCEC model, export it to one ONNX file with `ocec-export` (which checks "
        "onnxruntime against PyTorch), time onnxruntime at batch 1 and 64, and run "
        "`ocec-predict` on a folder of crops. The commands are the same ones you type in a shell."
    ),
    new_code_cell(
        SETTINGS.format(
            body="NUM_SAMPLES = 240 if SMALL else 12000\n"
            "EPOCHS = 1 if SMALL else 10\n"
            "BATCH = 32 if SMALL else 256\n"
            "N_CROPS = 16 if SMALL else 200      # crops written to the folder for ocec-predict\n"
            "REPEATS = 5 if SMALL else 50        # latency repetitions\n"
            "# small: a few batches and no test pass, just enough for a checkpoint\n"
            'FAST = ["trainer.limit_train_batches=2", "trainer.limit_val_batches=1", "test=false"] if SMALL else []\n'
            'RUN_DIR = OUT / "03_export"'
        )
    ),
    new_code_cell(
        "import subprocess\n"
        "import sys\n"
        "import time\n\n"
        "import numpy as np\n"
        "import pandas as pd\n"
        "from PIL import Image as PILImage\n\n"
        "from ocec_lightning.config import compose_config\n"
        "from ocec_lightning.training import run_training\n\n"
        "BIN = Path(sys.executable).parent  # the venv's console scripts\n\n\n"
        "def sh(*args):\n"
        '    """Run an ocec command like a shell would; print its output; fail on error."""\n'
        "    done = subprocess.run([str(BIN / args[0]), *map(str, args[1:])], capture_output=True, text=True)\n"
        "    print(done.stdout[-3000:], done.stderr[-3000:])\n"
        "    done.check_returncode()\n"
        "    return done\n\n\n"
        "cfg = compose_config(\n"
        '    [f"data.source.num_samples={NUM_SAMPLES}", f"data.batch_size={BATCH}", "data.num_workers=0",\n'
        '     f"trainer.max_epochs={EPOCHS}", "callbacks.progress_bar=null", "callbacks.curve_report=null", *FAST],\n'
        '    output_dir=RUN_DIR / f"run_{STAMP}",\n'
        ")\n"
        "result = run_training(cfg)\n"
        "ckpt = result.best_checkpoint or result.last_checkpoint\n"
        "ckpt"
    ),
    new_markdown_cell("## Export (EMA weights when the checkpoint has them) and the parity check"),
    new_code_cell(
        'onnx_path = RUN_DIR / "ocec.onnx"\n'
        'sh("ocec-export", f"ckpt={ckpt}", f"out={onnx_path}")\n'
        'print(f"{onnx_path.name}: {onnx_path.stat().st_size / 1024:.1f} KiB")'
    ),
    new_markdown_cell("## Metadata and onnxruntime latency (batch 1 and 64)"),
    new_code_cell(
        "import onnxruntime as ort\n\n"
        'session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])\n'
        "meta = session.get_modelmeta().custom_metadata_map\n"
        "print({k: (v if len(v) < 80 else v[:77] + '...') for k, v in meta.items()})\n"
        "name = session.get_inputs()[0].name\n"
        "h, w = cfg.data.image_size\n"
        "rows = []\n"
        "for batch in (1, 64):\n"
        "    x = np.random.default_rng(0).random((batch, 3, h, w), dtype=np.float32)\n"
        "    session.run(None, {name: x})  # warm-up\n"
        "    start = time.perf_counter()\n"
        "    for _ in range(REPEATS):\n"
        "        session.run(None, {name: x})\n"
        "    ms = 1000 * (time.perf_counter() - start) / REPEATS\n"
        '    rows.append({"batch": batch, "ms / batch": round(ms, 3), "ms / image": round(ms / batch, 4)})\n'
        "pd.DataFrame(rows)"
    ),
    new_markdown_cell("## Predict on a folder of crops"),
    new_code_cell(
        "from ocec_lightning.data import build_datamodule\n\n"
        "dm = build_datamodule(cfg)\n"
        'dm.setup("fit")\n'
        "raw, _, labels = dm.fixed_val_samples(N_CROPS)\n"
        'crops = RUN_DIR / "crops"\n'
        "crops.mkdir(parents=True, exist_ok=True)\n"
        "truth = {}\n"
        "for i, (image, label) in enumerate(zip(raw.numpy(), labels.tolist())):\n"
        '    PILImage.fromarray(image).save(crops / f"crop_{i:03d}.png")\n'
        '    truth[f"crop_{i:03d}.png"] = cfg.task.class_names[label]\n'
        'out_csv = RUN_DIR / "predictions.csv"\n'
        'sh("ocec-predict", f"onnx={onnx_path}", f"input={crops}", f"out={out_csv}", "progress=false")\n'
        "pred = pd.read_csv(out_csv)\n"
        'pred["truth"] = [truth.get(Path(p).name) for p in pred["path"]]\n'
        "pred.head(10)"
    ),
]

NOTEBOOKS = {
    "01_classification.ipynb": CLASSIFICATION,
    "02_segmentation.ipynb": SEGMENTATION,
    "03_export.ipynb": EXPORT,
}

KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def strip(nb: nbformat.NotebookNode) -> bool:
    """Remove outputs, execution counts and run metadata in place; True when it changed."""
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code":
            changed |= bool(cell.outputs) or cell.execution_count is not None
            cell.outputs, cell.execution_count = [], None
        for key in ("execution", "collapsed", "scrolled"):
            changed |= cell.metadata.pop(key, None) is not None
    return changed


def main(argv: list[str]) -> int:
    if "--strip" in argv:
        for path in sorted(HERE.glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            if strip(nb):
                nbformat.write(nb, path)
                print(f"stripped {path.name}")
        return 0
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(
            cells=cells, metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}}
        )
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"c{i:02d}"
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
