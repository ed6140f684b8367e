"""`ocec-predict`: batched inference of a checkpoint or its ONNX export on crops.

Preprocessing is exactly the validation one: every image resized to the stored image
size as the data cache does it (`cv2.INTER_AREA`, `data/cache_fill.py`) and normalised by
`build_eval_transform` with the stored mean/std. Classification writes a CSV
(`path, prob_open, label_id, label` at the stored threshold); segmentation writes, per
image, a class-id mask PNG and a colour overlay (the stored palette) under a folder
beside the CSV, and the CSV indexes them. A checkpoint and its ONNX file give the same
answers (the parity check of the export guarantees 1e-4 on P(open) / logits).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ocec_lightning.data.cache_fill import fit_image
from ocec_lightning.data.transforms import build_eval_transform
from ocec_lightning.errors import ConfigError, DataError
from ocec_lightning.export.inputs import read_inputs
from ocec_lightning.viz.overlays import default_palette, overlay


@dataclass
class Predictor:
    """A model that maps normalised float [N,3,H,W] to its outputs, and its settings."""

    task: str
    image_size: tuple[int, int]
    mean: list[float]
    std: list[float]
    class_names: list[str]
    threshold: float
    palette: np.ndarray | None
    run: Any  # Callable[[np.ndarray], list[np.ndarray]]
    source: str


def from_checkpoint(path: str | Path) -> Predictor:
    from ocec_lightning.checkpoints import load_checkpoint
    from ocec_lightning.export.onnx_export import deployment_graph
    from ocec_lightning.export.parity import torch_outputs

    loaded = load_checkpoint(path)
    hp = loaded.hparams
    graph = deployment_graph(loaded.task.model, loaded.task_name)
    return _predictor(loaded.task_name, hp, lambda batch: torch_outputs(graph, batch), str(path))


def from_onnx(path: str | Path) -> Predictor:
    from ocec_lightning.export.onnx_export import read_metadata
    from ocec_lightning.export.parity import ort_session, run_session

    file = Path(path)
    if not file.is_file():
        raise DataError(f"onnx: no ONNX file at {file}")
    session = ort_session(file)
    meta = read_metadata(file)
    if meta.get("task") not in ("classification", "segmentation") or "input_size" not in meta:
        raise DataError(f"onnx: {file} was not written by ocec-export (no OCEC metadata)")
    hp = {
        "image_size": meta["input_size"],
        "normalize": {"mean": meta["normalize_mean"], "std": meta["normalize_std"]},
        "class_names": meta.get("class_names"),
        "threshold": meta.get("threshold", 0.5),
        "palette": meta.get("palette"),
        "num_classes": meta.get("num_classes"),
    }
    return _predictor(meta["task"], hp, lambda batch: run_session(session, batch), str(file))


def _predictor(task: str, hp: dict[str, Any], run: Any, source: str) -> Predictor:
    names = list(hp.get("class_names") or [])
    palette = None
    if task == "segmentation":
        count = int(hp.get("num_classes") or len(names) or 2)
        palette = np.asarray(hp["palette"], np.uint8) if hp.get("palette") else None
        palette = palette if palette is not None else default_palette(count)
    normalize = hp.get("normalize") or {"mean": [0.0] * 3, "std": [1.0] * 3}
    return Predictor(
        task=task,
        image_size=(int(hp["image_size"][0]), int(hp["image_size"][1])),
        mean=list(normalize["mean"]),
        std=list(normalize["std"]),
        class_names=names,
        threshold=float(hp.get("threshold", 0.5) or 0.5),
        palette=palette,
        run=run,
        source=source,
    )


def load_predictor(ckpt: str | None = None, onnx: str | None = None) -> Predictor:
    if bool(ckpt) == bool(onnx):
        raise ConfigError("ckpt/onnx", f"ckpt={ckpt}, onnx={onnx}", "exactly one of them")
    return from_checkpoint(ckpt) if ckpt else from_onnx(str(onnx))


def _mask_name(index: int, ref: str) -> str:
    stem = Path(ref.split("[")[0]).stem or "image"
    return f"{index:06d}_{stem}.png"


def predict(
    predictor: Predictor,
    input_path: str | Path,
    out: str | Path = "predictions.csv",
    batch_size: int = 64,
    progress: bool = True,
) -> dict[str, Any]:
    """Run `predictor` on every image of `input_path`; write the CSV (and masks/overlays)."""
    from rich.progress import Progress

    from ocec_lightning.utils.console import console

    if int(batch_size) < 1:
        raise ConfigError("batch_size", batch_size, "an integer >= 1")
    items = read_inputs(input_path)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    seg_dir = out.with_suffix("")
    if predictor.task == "segmentation":
        (seg_dir / "masks").mkdir(parents=True, exist_ok=True)
        (seg_dir / "overlays").mkdir(parents=True, exist_ok=True)
    transform = build_eval_transform(predictor.mean, predictor.std)
    height, width = predictor.image_size
    rows: list[dict[str, Any]] = []
    with Progress(console=console, disable=not progress, transient=True) as bar:
        job = bar.add_task(f"predict {Path(predictor.source).name}", total=len(items))
        for start in range(0, len(items), int(batch_size)):
            chunk = items[start : start + int(batch_size)]
            raw = np.stack([fit_image(read(), height, width) for _, read in chunk])
            batch = torch.stack([transform(image=image)["image"] for image in raw]).numpy()
            outputs = predictor.run(batch)
            for k, (ref, _) in enumerate(chunk):
                rows.append(_row(predictor, start + k, ref, raw[k], outputs, k, seg_dir))
            bar.advance(job, len(chunk))
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return {"csv": out, "count": len(rows), "task": predictor.task}


def _row(
    predictor: Predictor,
    index: int,
    ref: str,
    image: np.ndarray,
    outputs: list[np.ndarray],
    k: int,
    seg_dir: Path,
) -> dict[str, Any]:
    if predictor.task == "classification":
        prob = float(outputs[0][k])
        label = int(prob >= predictor.threshold)
        names = predictor.class_names or ["closed", "open"]
        return {"path": ref, "prob_open": f"{prob:.6f}", "label_id": label, "label": names[label]}
    labels = outputs[1][k].astype(np.uint8)
    assert predictor.palette is not None
    name = _mask_name(index, ref)
    mask_path, overlay_path = seg_dir / "masks" / name, seg_dir / "overlays" / name
    Image.fromarray(labels, mode="L").save(mask_path)
    Image.fromarray(overlay(image, labels, predictor.palette)).save(overlay_path)
    present = sorted(int(v) for v in np.unique(labels))
    return {
        "path": ref,
        "mask": str(mask_path),
        "overlay": str(overlay_path),
        "classes": " ".join(str(v) for v in present),
    }
