"""`ocec-predict ckpt=PATH|onnx=FILE input=DIR|PARQUET|CSV [out=CSV] [batch_size=64]` (Hydra
app on conf/predict.yaml, which documents every option).

Batched inference with the validation preprocessing (`ocec_lightning/export/predict.py`).
Bad input prints `error: ...` on one line (naming the file) and exits 2.
"""

from __future__ import annotations

from collections.abc import Sequence

import hydra
from omegaconf import DictConfig

from ocec_lightning.checks import boolean, int_at_least
from ocec_lightning.cli.hydra_app import CONFIG_PATH, required, run_app, run_guarded, user_path
from ocec_lightning.errors import ConfigError

EXAMPLE = "ocec-predict onnx=eyes.onnx input=data/crops/ out=predictions.csv"
# Taken as typed: a path with spaces, brackets or a comma needs no Hydra quoting.
PATH_KEYS = ("ckpt", "onnx", "input", "out")


def _predict(cfg: DictConfig) -> None:
    ckpt, onnx = user_path(cfg.ckpt), user_path(cfg.onnx)
    if ckpt is None and onnx is None:
        raise ConfigError("ckpt/onnx", None, f"one of them (required), e.g. {EXAMPLE}")
    source = user_path(required(cfg, "input", EXAMPLE))
    out = user_path(required(cfg, "out", EXAMPLE))
    # Hydra types the values as typed (`batch_size=abc` is a string): check them first.
    batch_size = int_at_least("batch_size", cfg.batch_size, 1)
    progress = boolean("progress", cfg.progress)
    from ocec_lightning.export.predict import load_predictor, predict  # torch, onnxruntime

    predictor = load_predictor(
        str(ckpt) if ckpt is not None else None, str(onnx) if onnx is not None else None
    )
    result = predict(predictor, source, out, batch_size, progress)
    extra = f" (masks and overlays under {result['csv'].with_suffix('')})"
    segmentation = result["task"] == "segmentation"
    print(
        f"predicted {result['count']} images -> {result['csv']}" + (extra if segmentation else "")
    )


@hydra.main(config_path=CONFIG_PATH, config_name="predict", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> None:
    run_guarded(_predict, cfg, record_failed_trials=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; `argv` (default: the command line) as typed in a shell."""
    return run_app(_hydra_main, argv, PATH_KEYS)


if __name__ == "__main__":
    raise SystemExit(main())
