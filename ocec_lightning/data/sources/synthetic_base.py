"""What the synthetic data sources (`synthetic_eyes`, `synthetic_faces`) share.

Both serve `num_samples` samples of one generator stream, deterministic by
`(seed, index)`, with `index // samples_per_subject` as the subject: the split group
unless `group_column` is None. Their tables draw blocks straight into the cache at
`(height, width)` with `workers` processes, and their fingerprints carry a hash of the
generator's code so that editing the drawing code invalidates disk caches. The
generators themselves are the `ocec_lightning.synthetic` package; these sources only
adapt them to the data pipeline, like the file sources adapt parquet, csv and folders.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ocec_lightning.checks import int_at_least, int_pair
from ocec_lightning.data.table import SampleTable, make_frame
from ocec_lightning.errors import ConfigError

# The values a synthetic source accepts for data.group_column.
GROUP_COLUMNS: tuple[str | None, ...] = ("subject", None)


def check_group_column(group_column: str | None) -> str | None:
    """A synthetic source's `data.group_column`: "subject" or None."""
    if group_column not in GROUP_COLUMNS:
        raise ConfigError(
            "data.group_column", group_column, "'subject' (split by synthetic subject) or null"
        )
    return group_column


def code_version(paths: Iterable[str | Path]) -> str:
    """Short hash of the given source files, for a synthetic source's cache fingerprint."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:12]


class SyntheticSourceBase:
    """Shared behaviour; a subclass's constructor checks and sets the attributes below
    with `_set_args`."""

    num_samples: int
    seed: int
    samples_per_subject: int
    height: int
    width: int
    workers: int
    group_column: str | None

    def _set_args(
        self,
        check_generator_args: Callable[..., None],
        num_samples: object,
        seed: object,
        image_size: object,
        samples_per_subject: object,
        workers: object,
        group_column: str | None,
        **generator_args: object,
    ) -> None:
        """Check and set the attributes above. `check_generator_args` is the generator's
        own check (`check_eye_args` / `check_face_args`), given the arguments this source
        passes on, `generator_args` among them; a bad height or width is reported as
        `data.image_size`, where the source's image size comes from."""
        self.num_samples = int_at_least("num_samples", num_samples, 1)
        self.height, self.width = int_pair("data.image_size", image_size)
        try:
            check_generator_args(
                seed=seed,
                height=self.height,
                width=self.width,
                samples_per_subject=samples_per_subject,
                workers=workers,
                **generator_args,
            )
        except ConfigError as err:
            if err.key not in ("height", "width"):
                raise
            size = [self.height, self.width]
            raise ConfigError(
                "data.image_size", size, f"[height, width], each {err.expected}"
            ) from None
        self.seed = int(seed)
        self.workers = int(workers)  # type: ignore[call-overload]
        self.samples_per_subject = int(samples_per_subject)  # type: ignore[call-overload]
        self.group_column = check_group_column(group_column)

    def _subjects(self) -> np.ndarray:
        """Subject of every sample, known without drawing anything."""
        return np.arange(self.num_samples) // self.samples_per_subject

    def _generate(
        self, generate: Callable[..., Any], start: int, stop: int, **kwargs: object
    ) -> Any:
        """Samples `start..stop-1` of this source's stream from the generator `generate`
        (`generate_eyes` / `generate_faces`), at this source's size and worker count."""
        return generate(
            stop - start,
            self.seed,
            self.height,
            self.width,
            start=start,
            workers=self.workers,
            **kwargs,
        )

    def _table(
        self,
        kind: str,
        labels: np.ndarray,
        fingerprint: str,
        class_names: Sequence[str],
        read_image: Callable[[int], np.ndarray],
        render_block: Callable[[int, int], Any],
        read_mask: Callable[[int], np.ndarray] | None = None,
    ) -> SampleTable:
        """The loaded table; rows are referred to as "synthetic `kind` #i"."""
        n = self.num_samples
        frame = make_frame(
            labels,
            [f"synthetic {kind} #{i}" for i in range(n)],
            groups=self._subjects() if self.group_column else None,
        )
        return SampleTable(
            frame,
            read_image,
            fingerprint,
            list(class_names),
            render_block=render_block,
            render_size=(self.height, self.width),
            read_mask=read_mask,
        )
