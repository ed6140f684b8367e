"""Plumbing shared by the synthetic generators (``eyes``, ``faces``)
and their dataset writers.

- argument checks that raise ``ConfigError`` naming the key;
- ``render_in_chunks``: render a contiguous index range into stacked arrays, fanned out
  to a process pool in ordered chunks (any worker count gives identical output);
- subject-level split assignment for the writers (a synthetic person never spans two
  splits) and the ``source`` group key written for each sample.

The drawing primitives live in ``raster``; what the synthetic data sources share, in
``ocec_lightning.data.sources.synthetic_base``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ocec_lightning.checks import int_at_least, split_ratios

# One output array of a renderer: the per-sample shape and the dtype.
OutputSpec = tuple[tuple[int, ...], type]


# ---------------------------------------------------------------------------------- checks


def check_render_args(
    seed: int, height: int, width: int, samples_per_subject: int, min_size: int, workers: int = 1
) -> None:
    """The arguments every synthetic renderer takes: stream, image size, subject size and
    worker count; ``ConfigError`` naming the first bad one."""
    int_at_least("seed", seed, 0)
    int_at_least("height", height, min_size)
    int_at_least("width", width, min_size)
    int_at_least("samples_per_subject", samples_per_subject, 1)
    int_at_least("workers", workers, 1)


# ------------------------------------------------------------------------------- rendering


def _render_range(job: tuple) -> tuple[np.ndarray, ...]:
    """Render indices ``start..start+n-1`` (top level so a process pool can pickle it)."""
    render, start, n, args, outputs = job
    arrays = tuple(np.empty((n, *shape), dtype=dtype) for shape, dtype in outputs)
    for k in range(n):
        for array, value in zip(arrays, render(start + k, *args), strict=True):
            array[k] = value
    return arrays


def render_in_chunks(
    render: Callable[..., tuple],
    n: object,
    start: object,
    workers: object,
    min_per_worker: int,
    args: tuple,
    outputs: Sequence[OutputSpec],
) -> tuple[np.ndarray, ...]:
    """Render samples ``start..start+n-1`` with ``render(index, *args)``, which returns one
    value per entry of ``outputs`` (``(per-sample shape, dtype)``); returns the stacked
    arrays, one per output, in index order.

    ``render`` must be a module-level function (a process pool pickles it by name). With
    ``workers > 1`` the range is cut into a few ordered chunks per worker, but never fewer
    than ``min_per_worker`` samples per worker (below that a pool costs more than it
    saves); samples depend only on their index, so any worker count gives the same arrays.
    ``workers`` is the caller's argument, checked with the renderer's others
    (``check_render_args``).
    """
    int_at_least("n", n, 0)
    int_at_least("start", start, 0)
    n = int(n)
    start = int(start)
    workers = min(int(workers), max(1, n // min_per_worker))
    outputs = tuple(outputs)
    if workers == 1:
        return _render_range((render, start, n, args, outputs))
    # A few chunks per worker balance the load; results come back in order.
    size = math.ceil(n / (workers * 4))
    jobs = [
        (render, s, min(size, start + n - s), args, outputs) for s in range(start, start + n, size)
    ]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(_render_range, jobs))
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


# -------------------------------------------------------------------------- subject splits


def subject_count(n: int, samples_per_subject: int) -> int:
    """Subjects covering samples ``0..n-1`` (``n >= 1``) at ``samples_per_subject`` each."""
    return (n - 1) // samples_per_subject + 1


def largest_remainder(n: int, ratios: Sequence[float]) -> np.ndarray:
    """Integer shares of ``n`` items by ``ratios`` (summing to 1): the floor of
    ``n * ratio`` each, the rest one by one to the largest fractional parts (ties to the
    first)."""
    raw = np.asarray(ratios, dtype=np.float64) * n
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n - int(counts.sum())]] += 1
    return counts


def split_counts(n_subjects: int, ratios: Sequence[float]) -> np.ndarray:
    """Subjects per split by largest remainder; a split with a positive ratio gets at
    least one subject whenever another split can spare one, so val/test are never
    silently empty."""
    counts = largest_remainder(n_subjects, ratios)
    for i, ratio in enumerate(ratios):
        if ratio > 0 and counts[i] == 0 and counts.max() > 1:
            counts[int(np.argmax(counts))] -= 1
            counts[i] = 1
    return counts


def assign_subject_splits(n_subjects: int, seed: int, ratios: object, salt: int) -> np.ndarray:
    """Split name (object array) of each subject ``0..n_subjects-1``, deterministic from
    ``seed`` and ``salt`` (which keeps this stream apart from the generator's streams).
    ``ratios``: the writer's ``ratios`` argument, checked by ``checks.split_ratios``.

    Subjects are ranked by a per-seed random key (a stream prefix, so a subject's key
    does not depend on ``n_subjects``) and the ranking is cut by the ratios.
    """
    shares = split_ratios("ratios", ratios)
    keys = np.random.default_rng([seed, salt]).random(n_subjects)
    order = np.argsort(keys, kind="stable")
    names = np.empty(n_subjects, dtype=object)
    bounds = np.concatenate([[0], np.cumsum(split_counts(n_subjects, list(shares.values())))])
    for name, lo, hi in zip(shares, bounds[:-1], bounds[1:], strict=True):
        names[order[lo:hi]] = name
    return names


def subject_sources(subjects: Iterable[int]) -> list[str]:
    """The ``source`` group key written for each sample: ``synthetic/subject_00042``."""
    return [f"synthetic/subject_{s:05d}" for s in subjects]
