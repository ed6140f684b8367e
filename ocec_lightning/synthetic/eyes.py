"""Procedural synthetic open/closed eye crops for OCEC smoke tests and offline training.

Each crop is fully determined by ``(seed, index)``: the label, the eyelid ``openness``
(relative aperture in [0, 1]) and all per-crop nuisances come from
``np.random.default_rng([seed, index])``, and the subject-level appearance (skin tone,
iris colour, eye shape, glasses) from ``np.random.default_rng([seed, 1_000_003,
subject])`` with ``subject = index // samples_per_subject``. A crop therefore never
depends on which other indices are generated, in what order or in which process, and
subject-grouped splits are meaningful because crops of one subject share their traits.

The label is drawn first (P(open) = ``open_ratio``, default the real dataset's 0.532),
then the openness conditionally: about ``BORDERLINE_FRACTION`` of crops fall within
``borderline_margin(threshold)`` of the threshold (genuinely ambiguous half-closed eyes),
the rest are clearly open or closed. ``label = openness > threshold``.
The drawing itself lives in ``eyes_render``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ocec_lightning.checks import int_at_least, number_in
from ocec_lightning.synthetic.common import check_render_args, render_in_chunks
from ocec_lightning.synthetic.eyes_render import SubjectTraits, draw_eye, sample_subject

# Share of crops whose openness lies within ``borderline_margin`` of the threshold.
# Tuned so a small CNN lands around F1 0.96-0.99 instead of a trivial 1.0.
BORDERLINE_FRACTION = 0.10
# Half-width of the borderline band around the threshold (openness units).
BORDER_MARGIN = 0.10
# Salt that separates the subject-trait stream from the per-crop stream.
SUBJECT_SALT = 1_000_003
# Below this many crops per worker a process pool costs more than it saves.
_MIN_PER_WORKER = 64
# Smallest height and width a crop is drawn at.
MIN_SIZE = 8


@dataclass(frozen=True)
class SyntheticEyes:
    """A generated batch of crops, aligned along the first axis."""

    images: np.ndarray  # uint8 [n, H, W, 3] RGB
    labels: np.ndarray  # int64 [n], 1 = open, 0 = closed
    openness: np.ndarray  # float32 [n]
    subjects: np.ndarray  # int64 [n]


def borderline_margin(threshold: float) -> float:
    """Half-width of the "close to threshold" band, shrunk so it stays inside (0, 1)."""
    return min(BORDER_MARGIN, threshold / 2.0, (1.0 - threshold) / 2.0)


def sample_openness(
    rng: np.random.Generator, open_ratio: float, threshold: float
) -> tuple[int, float]:
    """Draw ``(label, openness)``: the label first, then openness conditioned on it."""
    is_open = rng.random() < open_ratio
    borderline = rng.random() < BORDERLINE_FRACTION
    x = rng.random()
    m = borderline_margin(threshold)
    if borderline:
        # Keep a 2% gap from the threshold so float32 storage never flips the label.
        step = m * (0.02 + 0.98 * x)
        openness = threshold + step if is_open else threshold - step
    elif is_open:
        lo = threshold + m
        openness = lo + (1.0 - lo) * x**0.6  # skewed toward wide open
    else:
        openness = (threshold - m) * x**2  # most closed eyes are fully shut
    return int(is_open), float(openness)


@lru_cache(maxsize=1024)
def subject_traits(seed: int, subject: int) -> SubjectTraits:
    """Appearance of one subject; cached because ``samples_per_subject`` crops share it."""
    return sample_subject(np.random.default_rng([seed, SUBJECT_SALT, subject]))


def check_eye_args(
    seed: int,
    height: int,
    width: int,
    open_ratio: float,
    threshold: float,
    samples_per_subject: int,
    workers: int = 1,
) -> None:
    """``ConfigError`` naming the first bad argument of ``render_eye`` /
    ``generate_eyes``; the data source and the writer call it before drawing anything."""
    check_render_args(seed, height, width, samples_per_subject, MIN_SIZE, workers)
    number_in("open_ratio", open_ratio, 0, 1, hint=" (the share of open eyes)")
    number_in("threshold", threshold, 0.05, 0.95, hint=" (the openness threshold)")


def _render(
    index: int,
    seed: int,
    height: int,
    width: int,
    open_ratio: float,
    threshold: float,
    samples_per_subject: int,
) -> tuple[np.ndarray, float, int]:
    rng = np.random.default_rng([seed, index])
    _, openness = sample_openness(rng, open_ratio, threshold)
    subject = index // samples_per_subject
    img = draw_eye(rng, subject_traits(seed, subject), openness, height, width)
    return img, openness, subject


def render_eye(
    seed: int,
    index: int,
    height: int = 32,
    width: int = 64,
    *,
    open_ratio: float = 0.532,
    threshold: float = 0.5,
    samples_per_subject: int = 25,
) -> tuple[np.ndarray, float, int]:
    """Render crop ``index`` of stream ``seed``: ``(HxWx3 uint8 RGB, openness, subject)``.

    The label is ``openness > threshold``.
    """
    check_eye_args(seed, height, width, open_ratio, threshold, samples_per_subject)
    int_at_least("index", index, 0)
    return _render(int(index), seed, height, width, open_ratio, threshold, samples_per_subject)


def generate_eyes(
    n: int,
    seed: int,
    height: int = 32,
    width: int = 64,
    *,
    start: int = 0,
    open_ratio: float = 0.532,
    threshold: float = 0.5,
    samples_per_subject: int = 25,
    workers: int = 1,
) -> SyntheticEyes:
    """Generate crops ``start..start+n-1``; any ``workers`` count gives identical output."""
    check_eye_args(seed, height, width, open_ratio, threshold, samples_per_subject, workers=workers)
    common = (int(seed), height, width, float(open_ratio), float(threshold), samples_per_subject)
    outputs = [((height, width, 3), np.uint8), ((), np.float32), ((), np.int64)]
    images, openness, subjects = render_in_chunks(
        _render, n, start, workers, _MIN_PER_WORKER, common, outputs
    )
    labels = (openness > threshold).astype(np.int64)
    return SyntheticEyes(images=images, labels=labels, openness=openness, subjects=subjects)
