"""`ocec-predict ckpt=PATH | onnx=FILE input=DIR|PARQUET|CSV [out=CSV] [batch_size=64]`.

Batched inference with the validation preprocessing (`ocec_lightning/export/predict.py`).
Bad input prints `error: ...` on one line (naming the file) and exits 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ocec_lightning.cli.kv_args import run_kv_cli
from ocec_lightning.errors import ConfigError

USAGE = (
    "usage: ocec-predict ckpt=PATH | onnx=FILE input=DIR|PARQUET|CSV "
    "[out=predictions.csv] [batch_size=64] [progress=true]"
)
SPEC: dict[str, tuple[type, object]] = {
    "ckpt": (str, None),
    "onnx": (str, None),
    "input": (str, None),
    "out": (str, "predictions.csv"),
    "batch_size": (int, 64),
    "progress": (bool, True),
}


def _predict(values: dict[str, Any]) -> str:
    if not values["input"]:
        raise ConfigError("input", None, f"a folder, .parquet or .csv of crops; {USAGE}")
    from ocec_lightning.export.predict import load_predictor, predict

    predictor = load_predictor(values["ckpt"], values["onnx"])
    result = predict(
        predictor, values["input"], values["out"], values["batch_size"], values["progress"]
    )
    extra = f" (masks and overlays under {result['csv'].with_suffix('')})"
    return f"predicted {result['count']} images -> {result['csv']}" + (
        extra if result["task"] == "segmentation" else ""
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point."""
    return run_kv_cli(argv, SPEC, USAGE, _predict)


if __name__ == "__main__":
    raise SystemExit(main())
