"""The built-in synthetic face-parsing scenes (`synthetic_faces`) as a data source.

Each scene is an RGB image with an index mask of the LaPa-style classes, deterministic by
`(seed, index)`. Subjects are `index // samples_per_subject`, known without drawing, so
`load()` returns at once and images and masks are drawn straight into the image and mask
caches in blocks, at the model's size and without a PNG round trip. With
`data.cache.mode=disk` a second run does not draw anything. Scenes of one subject share
skin, hair and face proportions, so the subject is the natural split group.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ocec_lightning.data.sources.synthetic_base import SyntheticSourceBase, code_version
from ocec_lightning.data.table import SampleTable, fingerprint_of
from ocec_lightning.synthetic import faces, faces_render, faces_scene, raster
from ocec_lightning.synthetic.faces import check_face_args, generate_faces, render_face
from ocec_lightning.synthetic.faces_scene import FACE_CLASSES


def _generator_version() -> str:
    """Hash of the generator's code: editing the drawing code invalidates disk caches."""
    # Not faces_writer: the PNG/parquet writer does not change the pixels.
    return code_version(m.__file__ for m in (faces, faces_scene, faces_render, raster))


class SyntheticFacesSource(SyntheticSourceBase):
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
        shared = (num_samples, seed, image_size, samples_per_subject, workers, group_column)
        self._set_args(check_face_args, *shared)

    def load(self) -> SampleTable:
        n = self.num_samples
        per = self.samples_per_subject
        subjects = self._subjects()
        fingerprint = fingerprint_of(
            "synthetic_faces", _generator_version(), n, self.seed, per, (self.height, self.width)
        )

        def render_block(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
            block = self._generate(generate_faces, start, stop, samples_per_subject=per)
            # The split groups above were computed without drawing; the generator is the
            # authority, so a drift between the two must not leak subjects silently.
            if not np.array_equal(block.subjects, subjects[start:stop]):
                raise RuntimeError(
                    "synthetic_faces subjects drifted from index // samples_per_subject; "
                    "update SyntheticFacesSource"
                )
            return block.images, block.masks

        def render(i: int) -> tuple[np.ndarray, np.ndarray, int]:
            return render_face(self.seed, i, self.height, self.width, samples_per_subject=per)

        return self._table(
            "face",
            np.zeros(n, dtype=np.int64),
            fingerprint,
            FACE_CLASSES,
            lambda i: render(i)[0],
            render_block,
            read_mask=lambda i: render(i)[1],
        )
