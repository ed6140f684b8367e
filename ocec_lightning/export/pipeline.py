"""`export_checkpoint`: checkpoint -> ONNX file + metadata + parity report.

The task comes from `checkpoint.load_checkpoint` (EMA weights when the run had EMA);
real validation crops for the parity check come from the checkpoint's own data config,
rebuilt as `evaluation.py` does (no augmentation, no workers). When that data is not
reachable any more the check runs on random inputs only and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf, open_dict

from ocec_lightning.checkpoints import LoadedCheckpoint, file_sha256, load_checkpoint
from ocec_lightning.errors import ConfigError, OCECError
from ocec_lightning.export.onnx_export import (
    ExportResult,
    build_metadata,
    deployment_graph,
    export_graph,
    fold_batchnorm,
    write_metadata,
)
from ocec_lightning.export.parity import DEFAULT_TOLERANCE, check_parity

FORMATS = ("onnx",)


def validation_crops(loaded: LoadedCheckpoint, k: int) -> tuple[np.ndarray | None, str]:
    """Up to `k` normalised validation crops [k,3,H,W] from the run's data, or (None, why)."""
    if k <= 0:
        return None, "skipped (real_crops=0)"
    from ocec_lightning.data import build_datamodule

    run_cfg = OmegaConf.create(loaded.record)
    with open_dict(run_cfg):
        run_cfg.data.num_workers = 0
        run_cfg.data.persistent_workers = False
        run_cfg.aug = OmegaConf.create({"name": "none", str(run_cfg.task.name): [], "batch": None})
    try:
        datamodule = build_datamodule(run_cfg)
        datamodule.setup("validate")
        _, normalised, _ = datamodule.fixed_val_samples(k)
    except (OCECError, OSError, ValueError) as err:
        return None, f"unavailable ({str(err).splitlines()[0][:160]})"
    return normalised.numpy(), f"{len(normalised)} validation crops"


def default_out(ckpt: Path, fold_bn: bool) -> Path:
    return ckpt.with_name(ckpt.stem + ("_folded" if fold_bn else "") + ".onnx")


def export_loaded(
    loaded: LoadedCheckpoint,
    out: Path,
    opset: int = 18,
    fold_bn: bool = False,
    exporter: str = "dynamo",
    real_crops: int = 16,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ExportResult:
    """Export a loaded checkpoint's model and check its parity."""
    hparams = loaded.hparams
    task = loaded.task_name
    image_size = (int(hparams["image_size"][0]), int(hparams["image_size"][1]))
    in_channels = int((hparams.get("model") or {}).get("in_channels", 3) or 3)
    reference = deployment_graph(loaded.task.model, task)
    model, folded = fold_batchnorm(loaded.task.model) if fold_bn else (loaded.task.model, 0)
    export_graph(deployment_graph(model, task), image_size, out, task, opset, exporter, in_channels)
    metadata = build_metadata(
        hparams, task, file_sha256(loaded.path), loaded.path.name, loaded.has_ema, folded, opset
    )
    write_metadata(out, metadata)
    crops, crops_note = validation_crops(loaded, real_crops)
    parity = check_parity(reference, out, image_size, crops, tolerance, in_channels=in_channels)
    parity["real_note"] = crops_note
    return ExportResult(out, out.stat().st_size, metadata, folded, parity)


def export_checkpoint(
    ckpt: str | Path,
    out: str | Path | None = None,
    format: str = "onnx",
    opset: int = 18,
    fold_bn: bool = False,
    exporter: str = "dynamo",
    real_crops: int = 16,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ExportResult:
    """`ocec-export`'s work: read `ckpt`, write `out` (default beside it), check parity."""
    if format not in FORMATS:
        raise ConfigError("format", format, f"one of {', '.join(FORMATS)}")
    if not 7 <= int(opset) <= 23:
        raise ConfigError("opset", opset, "an ONNX opset between 7 and 23 (18 is the default)")
    loaded = load_checkpoint(ckpt)
    target = Path(out) if out else default_out(Path(ckpt), fold_bn)
    return export_loaded(loaded, target, int(opset), fold_bn, exporter, real_crops, tolerance)


def summary_line(result: ExportResult) -> str:
    parity: dict[str, Any] = result.parity
    real = parity.get("real", {}).get("max_abs_diff")
    real_text = f"{real:.2e}" if real is not None else parity.get("real_note", "n/a")
    return (
        f"exported {result.path} ({result.size_bytes / 1024:.1f} KiB, "
        f"folded BatchNorms: {result.folded_batchnorms}); parity max abs diff "
        f"random {parity['random']['max_abs_diff']:.2e}, real {real_text} "
        f"(tolerance {parity['tolerance']:g})"
    )
