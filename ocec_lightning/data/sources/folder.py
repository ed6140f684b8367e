"""Image folders.

Classification: `root/<class name>/*.{png,jpg,jpeg,bmp}`. The folder names are the
labels, so they must be exactly the task's class names (one folder per class, no others):
a typo'd or extra folder would otherwise silently become a class or vanish.

Segmentation: `root/images/<stem>.{png,jpg,jpeg,bmp}` and `root/masks/<stem>.{png,bmp}`
(index masks, one class id per pixel), paired by file stem; an image without a mask or a
mask without an image is an error listing (up to 5 of) the unpaired stems.

Such data has no split or group column; splits come from `data.splits`. With `task=None`
(as `ocec-data info` reads) a root holding `images/` and `masks/` is segmentation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ocec_lightning.data.table import (
    IMAGE_SUFFIXES,
    SampleTable,
    default_class_names,
    file_signatures,
    file_table,
    fingerprint_of,
    source_options,
    task_mismatch,
)
from ocec_lightning.errors import DataError

SEGMENTATION_DIRS = ("images", "masks")
MASK_SUFFIXES: tuple[str, ...] = (".png", ".bmp")  # lossless only: JPEG would blur the ids


def is_segmentation_folder(root: Path) -> bool:
    return all((root / name).is_dir() for name in SEGMENTATION_DIRS)


class FolderSource:
    """Loads `root/<class>/<image>` (classification) or `root/{images,masks}/` (segmentation).

    `class_names` defaults to the sorted folder names (classification) or the built-in
    face classes (segmentation); `task=None` picks the layout found under `root`.
    """

    def __init__(
        self,
        root: str | Path,
        class_names: Sequence[str] | None = None,
        task: str | None = "classification",
    ) -> None:
        self.root = Path(root)
        self.class_names, self.task = source_options(class_names, task)

    def load(self) -> SampleTable:
        if not self.root.is_dir():
            layout = (
                "root/images/* and root/masks/*"
                if self.task == "segmentation"
                else "root/<class>/*.png"
            )
            raise DataError(
                f"image folder does not exist: {self.root}; expected {layout} (data.root)"
            )
        task = self.task or (
            "segmentation" if is_segmentation_folder(self.root) else "classification"
        )
        if task == "segmentation":
            return self._load_segmentation()
        return self._load_classification()

    def _load_classification(self) -> SampleTable:
        found = sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        class_names = self.class_names or found
        if sorted(class_names) != found:
            if is_segmentation_folder(self.root) and set(SEGMENTATION_DIRS) - set(class_names):
                raise task_mismatch(
                    str(self.root),
                    "segmentation",
                    "classification",
                    "has images/ and masks/ folders (a segmentation layout)",
                )
            raise DataError(
                f"{self.root}: class folders {found} do not match the class names {class_names}; "
                "expected exactly one folder per class"
            )
        files: list[Path] = []
        labels: list[int] = []
        for label, name in enumerate(class_names):
            images = _files(self.root / name, IMAGE_SUFFIXES)
            files += images
            labels += [label] * len(images)
        if not files:
            raise DataError(
                f"{self.root}: no images ({', '.join(IMAGE_SUFFIXES)}) in the class folders"
            )
        refs = [str(f) for f in files]
        fingerprint = fingerprint_of("folder", file_signatures(files), class_names)
        return file_table(files, refs, fingerprint, class_names, labels=labels)

    def _load_segmentation(self) -> SampleTable:
        if not is_segmentation_folder(self.root):
            raise task_mismatch(
                str(self.root),
                "classification",
                "segmentation",
                "has no images/ and masks/ folders (expected root/images/* and root/masks/* "
                "paired by file stem)",
            )
        images = _by_stem(self.root / "images", IMAGE_SUFFIXES)
        masks = _by_stem(self.root / "masks", MASK_SUFFIXES)
        no_mask = sorted(set(images) - set(masks))
        no_image = sorted(set(masks) - set(images))
        if no_mask or no_image:
            parts = []
            if no_mask:
                parts.append(f"{len(no_mask)} image(s) without a mask: {_few(no_mask)}")
            if no_image:
                parts.append(f"{len(no_image)} mask(s) without an image: {_few(no_image)}")
            raise DataError(
                f"{self.root}: unpaired files, {'; '.join(parts)}; expected images/<stem>.* "
                f"and masks/<stem>{{{','.join(MASK_SUFFIXES)}}} with the same stems"
            )
        if not images:
            raise DataError(
                f"{self.root}: no images ({', '.join(IMAGE_SUFFIXES)}) in images/; expected "
                "root/images/* and root/masks/* paired by file stem"
            )
        stems = sorted(images)
        files = [images[s] for s in stems]
        mask_files = [masks[s] for s in stems]
        refs = [str(f) for f in files]
        class_names = self.class_names or default_class_names("segmentation")
        fingerprint = fingerprint_of(
            "folder-segmentation", file_signatures(files), file_signatures(mask_files), class_names
        )
        mask_refs = [str(f) for f in mask_files]
        return file_table(
            files, refs, fingerprint, class_names, masks=mask_files, mask_refs=mask_refs
        )


def _files(folder: Path, suffixes: Sequence[str]) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
    )


def _by_stem(folder: Path, suffixes: Sequence[str]) -> dict[str, Path]:
    """Files of `folder` by stem; two files with one stem (a.png, a.jpg) are ambiguous."""
    out: dict[str, Path] = {}
    for path in _files(folder, suffixes):
        if path.stem in out:
            raise DataError(
                f"{folder}: {out[path.stem].name} and {path.name} share the stem "
                f"{path.stem!r}; expected one file per stem (pairs are matched by stem)"
            )
        out[path.stem] = path
    return out


def _few(stems: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(stems[:limit])
    return shown + (f" (and {len(stems) - limit} more)" if len(stems) > limit else "")
