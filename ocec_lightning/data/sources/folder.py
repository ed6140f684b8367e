"""Class-per-folder image data: `root/<class name>/*.{png,jpg,jpeg,bmp}`.

The folder names are the labels, so they must be exactly the task's class names (one
folder per class, no others): a typo'd or extra folder would otherwise silently become a
class or vanish. Such data has no split or group column; splits come from `data.splits`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ocec_lightning.data.table import (
    IMAGE_SUFFIXES,
    SampleTable,
    file_signatures,
    fingerprint_of,
    make_frame,
    read_image_file,
)
from ocec_lightning.errors import DataError


class FolderSource:
    """Loads `root/<class>/<image>`; `class_names` defaults to the sorted folder names."""

    def __init__(self, root: str | Path, class_names: Sequence[str] | None = None) -> None:
        self.root = Path(root)
        self.class_names = list(class_names) if class_names else None

    def load(self) -> SampleTable:
        if not self.root.is_dir():
            raise DataError(
                f"image folder does not exist: {self.root}; expected root/<class>/*.png (data.root)"
            )
        found = sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        class_names = self.class_names or found
        if sorted(class_names) != found:
            raise DataError(
                f"{self.root}: class folders {found} do not match the class names {class_names}; "
                "expected exactly one folder per class"
            )
        files, labels = [], []
        for label, name in enumerate(class_names):
            images = sorted(
                p
                for p in (self.root / name).iterdir()
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            files += images
            labels += [label] * len(images)
        if not files:
            raise DataError(
                f"{self.root}: no images ({', '.join(IMAGE_SUFFIXES)}) in the class folders"
            )
        refs = [str(f) for f in files]
        fingerprint = fingerprint_of("folder", file_signatures(files), class_names)
        return SampleTable(
            make_frame(labels, refs),
            lambda i: read_image_file(files[i], refs[i]),
            fingerprint,
            list(class_names),
        )
