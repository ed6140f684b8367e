"""Data pipeline: sources → sample table → splits → decoded-image cache → DataModule.

`build_datamodule(cfg)` turns the composed Hydra config (`data`, `aug`, `task`, `seed`)
into an `OCECDataModule` (classification, or segmentation when samples carry masks).
The DataModule (and with it torch and Lightning) is imported lazily so that light tools
such as `ocec-data info` start quickly.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# albumentations asks PyPI for a newer version on import (2 s timeout, then a warning);
# training machines are often offline, and the answer never changes a run.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

if TYPE_CHECKING:
    from ocec_lightning.data.build import build_datamodule
    from ocec_lightning.data.datamodule import OCECDataModule

__all__ = ["OCECDataModule", "build_datamodule"]


def __getattr__(name: str) -> Any:
    if name == "OCECDataModule":
        from ocec_lightning.data.datamodule import OCECDataModule

        return OCECDataModule
    if name == "build_datamodule":
        from ocec_lightning.data.build import build_datamodule

        return build_datamodule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
