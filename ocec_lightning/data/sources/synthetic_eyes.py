"""The built-in synthetic eye crops (`synthetic_eyes`) as a data source.

Labels and subjects are cheap to compute without drawing a crop (the label is the first
draw of each crop's random stream), so `load()` returns at once and the crops are drawn
straight into the image cache in blocks, at the model's image size and without a PNG
round trip. With `data.cache.mode=disk` a second run does not draw anything.
The generated subject is the natural group: crops of one synthetic person share skin,
iris and eye shape, so splitting per sample would leak subjects across splits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ocec_lightning.data.sources.synthetic_base import SyntheticSourceBase, code_version
from ocec_lightning.data.table import OCEC_CLASS_NAMES, SampleTable, fingerprint_of
from ocec_lightning.synthetic import eyes, eyes_render, raster
from ocec_lightning.synthetic.eyes import (
    check_eye_args,
    generate_eyes,
    render_eye,
    sample_openness,
)


def _generator_version() -> str:
    """Hash of the generator's code: editing the drawing code invalidates disk caches."""
    return code_version(m.__file__ for m in (eyes, eyes_render, raster))


class SyntheticEyesSource(SyntheticSourceBase):
    """`num_samples` procedural crops; deterministic by `(seed, index)`."""

    def __init__(
        self,
        num_samples: int,
        seed: int,
        open_ratio: float = 0.532,
        threshold: float = 0.5,
        samples_per_subject: int = 25,
        image_size: Sequence[int] = (32, 64),
        workers: int = 1,
        group_column: str | None = "subject",
    ) -> None:
        shared = (num_samples, seed, image_size, samples_per_subject, workers, group_column)
        self._set_args(check_eye_args, *shared, open_ratio=open_ratio, threshold=threshold)
        self.open_ratio = float(open_ratio)
        self.threshold = float(threshold)

    def _generator_kwargs(self) -> dict:
        return {
            "open_ratio": self.open_ratio,
            "threshold": self.threshold,
            "samples_per_subject": self.samples_per_subject,
        }

    def load(self) -> SampleTable:
        n = self.num_samples
        labels = np.fromiter(
            (
                sample_openness(
                    np.random.default_rng([self.seed, i]), self.open_ratio, self.threshold
                )[0]
                for i in range(n)
            ),
            dtype=np.int64,
            count=n,
        )
        fingerprint = fingerprint_of(
            "synthetic_eyes",
            _generator_version(),
            n,
            self.seed,
            self._generator_kwargs(),
            (self.height, self.width),
        )

        def render_block(start: int, stop: int) -> np.ndarray:
            eyes = self._generate(generate_eyes, start, stop, **self._generator_kwargs())
            # The labels above were predicted from the random stream; the generator is
            # the authority, so a drift between the two must not train silently.
            if not np.array_equal(eyes.labels, labels[start:stop]):
                raise RuntimeError(
                    "synthetic_eyes labels drifted from sample_openness; update SyntheticEyesSource"
                )
            return eyes.images

        def read_image(i: int) -> np.ndarray:
            return render_eye(self.seed, i, self.height, self.width, **self._generator_kwargs())[0]

        return self._table("eye", labels, fingerprint, OCEC_CLASS_NAMES, read_image, render_block)
