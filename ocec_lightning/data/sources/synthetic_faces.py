"""The built-in synthetic face-parsing scenes (`synthetic_faces`) as a data source.

Each scene is an RGB image with an index mask of the LaPa-style classes, deterministic by
`(seed, index)`. Subjects are `index // samples_per_subject`, known without drawing, so
`load()` returns at once and images and masks are drawn straight into the image and mask
caches in blocks, at the model's size and without a PNG round trip. With
`data.cache.mode=disk` a second run does not draw anything. Scenes of one subject share
skin, hair and face proportions, so the subject is the natural split group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ocec_lightning.data import synthetic_faces
from ocec_lightning.data.synthetic_faces import FACE_CLASSES, generate_faces, render_face
from ocec_lightning.data.table import SampleTable, fingerprint_of, make_frame
from ocec_lightning.errors import ConfigError

_GROUP_COLUMNS = ("subject", None)


def _generator_version() -> str:
    """Hash of the generator's code: editing the drawing code invalidates disk caches."""
    digest = hashlib.sha256()
    folder = Path(synthetic_faces.__file__).parent
    for path in sorted(folder.glob("synthetic_faces*.py")):
        if "writer" not in path.stem:  # the PNG/parquet writer does not change the pixels
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _positive_int(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(key, value, "an integer >= 1")
    return int(value)


class SyntheticFacesSource:
    """`num_samples` procedural face-parsing scenes with masks; deterministic by `(seed, index)`."""

    def __init__(
        self,
        num_samples: int,
        seed: int,
        image_size: Sequence[int] = (128, 128),
        samples_per_subject: int = 10,
        workers: int = 1,
        group_column: str | None = "subject",
    ) -> None:
        self.num_samples = _positive_int("data.source.num_samples", num_samples)
        self.samples_per_subject = _positive_int(
            "data.source.samples_per_subject", samples_per_subject
        )
        self.workers = _positive_int("data.source.workers", workers)
        if group_column not in _GROUP_COLUMNS:
            raise ConfigError(
                "data.group_column", group_column, "'subject' (split by synthetic subject) or null"
            )
        try:
            self.height, self.width = (int(v) for v in image_size)
        except (TypeError, ValueError):
            raise ConfigError(
                "data.image_size", image_size, "[height, width], e.g. [128, 128]"
            ) from None
        if min(self.height, self.width) < 16:
            raise ConfigError(
                "data.image_size", list(image_size), "at least [16, 16] for synthetic faces"
            )
        self.seed, self.group_column = int(seed), group_column

    def load(self) -> SampleTable:
        n, per = self.num_samples, self.samples_per_subject
        subjects = np.arange(n) // per
        frame = make_frame(
            np.zeros(n, dtype=np.int64),
            [f"synthetic face #{i}" for i in range(n)],
            groups=subjects if self.group_column else None,
        )
        fingerprint = fingerprint_of(
            "synthetic_faces", _generator_version(), n, self.seed, per, (self.height, self.width)
        )

        def render_block(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
            faces = generate_faces(
                stop - start,
                self.seed,
                self.height,
                self.width,
                start=start,
                samples_per_subject=per,
                workers=self.workers,
            )
            # The split groups above were computed without drawing; the generator is the
            # authority, so a drift between the two must not leak subjects silently.
            if not np.array_equal(faces.subjects, subjects[start:stop]):
                raise RuntimeError(
                    "synthetic_faces subjects drifted from index // samples_per_subject; "
                    "update SyntheticFacesSource"
                )
            return faces.images, faces.masks

        def render(i: int) -> tuple[np.ndarray, np.ndarray, int]:
            return render_face(self.seed, i, self.height, self.width, samples_per_subject=per)

        return SampleTable(
            frame,
            lambda i: render(i)[0],
            fingerprint,
            list(FACE_CLASSES),
            render_block=render_block,
            render_size=(self.height, self.width),
            read_mask=lambda i: render(i)[1],
        )
