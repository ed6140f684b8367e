"""`ocec-export ckpt=PATH [format=onnx] [opset=18] [fold_bn=false] [out=FILE] ...`.

Exports the checkpoint's (EMA) model to one ONNX file with its metadata and runs the
onnxruntime parity check (`ocec_lightning/export/`). Bad input prints `error: ...` on
one line and exits 2; a parity failure too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ocec_lightning.cli.kv_args import run_kv_cli
from ocec_lightning.errors import ConfigError

USAGE = (
    "usage: ocec-export ckpt=PATH [format=onnx] [opset=18] [fold_bn=false] [out=FILE] "
    "[exporter=dynamo|legacy] [real_crops=16] [tolerance=1e-4]"
)
SPEC: dict[str, tuple[type, object]] = {
    "ckpt": (str, None),
    "format": (str, "onnx"),
    "opset": (int, 18),
    "fold_bn": (bool, False),
    "out": (str, None),
    "exporter": (str, "dynamo"),
    "real_crops": (int, 16),
    "tolerance": (float, 1e-4),
}


def _export(values: dict[str, Any]) -> str:
    if not values["ckpt"]:
        raise ConfigError("ckpt", None, f"the path of an ocec-train checkpoint; {USAGE}")
    from ocec_lightning.export.pipeline import export_checkpoint, summary_line

    return summary_line(export_checkpoint(**values))


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point."""
    return run_kv_cli(argv, SPEC, USAGE, _export)


if __name__ == "__main__":
    raise SystemExit(main())
