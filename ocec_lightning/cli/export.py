"""`ocec-export ckpt=PATH [out=FILE] [fold_bn=true] [opset=18] [overrides]` (Hydra app on
conf/export.yaml, which documents every option).

Exports the checkpoint's (EMA) model to one ONNX file with its metadata and runs the
onnxruntime parity check (`ocec_lightning/export/`). Bad input, a parity failure included,
prints `error: ...` on one line and exits 2.
"""

from __future__ import annotations

from collections.abc import Sequence

import hydra
from omegaconf import DictConfig

from ocec_lightning.checks import boolean, int_at_least, number_in
from ocec_lightning.cli.hydra_app import CONFIG_PATH, required, run_app, run_guarded, user_path

EXAMPLE = "ocec-export ckpt=outputs/classification/runs/<time>/checkpoints/last.ckpt"
# Taken as typed: a path with spaces, brackets or a comma needs no Hydra quoting.
PATH_KEYS = ("ckpt", "out")


def _export(cfg: DictConfig) -> None:
    ckpt = user_path(required(cfg, "ckpt", EXAMPLE))
    # Hydra types the values as typed (`opset=abc` is a string): check them before the work.
    options = {
        "out": user_path(cfg.out),
        "format": str(cfg.format),
        "opset": int_at_least("opset", cfg.opset, 7),
        "fold_bn": boolean("fold_bn", cfg.fold_bn),
        "exporter": str(cfg.exporter),
        "real_crops": int_at_least("real_crops", cfg.real_crops, 0),
        "tolerance": number_in("tolerance", cfg.tolerance, 0.0, float("inf"), low_open=True),
    }
    from ocec_lightning.export.pipeline import export_checkpoint, summary_line  # torch, onnx

    print(summary_line(export_checkpoint(ckpt, **options)))


@hydra.main(config_path=CONFIG_PATH, config_name="export", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> None:
    run_guarded(_export, cfg, record_failed_trials=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; `argv` (default: the command line) as typed in a shell."""
    return run_app(_hydra_main, argv, PATH_KEYS)


if __name__ == "__main__":
    raise SystemExit(main())
