"""Procedural synthetic face-parsing scenes with LaPa-style index masks: the generator.

``render_face(seed, index)`` gives one scene's ``(image, mask, subject)`` and
``generate_faces`` a contiguous range of them, fanned out to processes in ordered chunks.
Every image is fully determined by ``(seed, index)``: the scene is drawn from
``np.random.default_rng([seed, index])`` and the subject's traits from their own stream
with ``subject = index // samples_per_subject`` (``faces_scene``), then painted
(``faces_render``). An image therefore never depends on which other indices are
generated, in which order, batch or process. ``flip_face`` mirrors a scene the way the
segmentation flip augmentation does, swapping the left/right ids of ``FLIP_PAIRS``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ocec_lightning.checks import int_at_least
from ocec_lightning.data.masks import swap_lut
from ocec_lightning.synthetic.common import check_render_args, render_in_chunks
from ocec_lightning.synthetic.faces_render import draw_face
from ocec_lightning.synthetic.faces_scene import FLIP_PAIRS, sample_scene, subject_traits

# Below this many images per worker a process pool costs more than it saves.
_MIN_PER_WORKER = 32
# Smallest height and width a scene is drawn at.
MIN_SIZE = 16


@dataclass(frozen=True)
class SyntheticFaces:
    """A generated batch of scenes, aligned along the first axis."""

    images: np.ndarray  # uint8 [n, H, W, 3] RGB
    masks: np.ndarray  # uint8 [n, H, W] class ids (FACE_CLASSES)
    subjects: np.ndarray  # int64 [n], index // samples_per_subject


def flip_face(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror an image ``[..., H, W, C]`` and mask ``[..., H, W]`` horizontally, swapping the
    left/right class ids so the result follows the same convention (the id swap of the
    segmentation flip augmentation, ``HorizontalFlipSwap``)."""
    return image[..., ::-1, :].copy(), swap_lut(FLIP_PAIRS)[mask[..., ::-1]]


def check_face_args(
    seed: int, height: int, width: int, samples_per_subject: int, workers: int = 1
) -> None:
    """``ConfigError`` naming the first bad argument of ``render_face`` /
    ``generate_faces``; the data source and the writer call it before drawing anything."""
    check_render_args(seed, height, width, samples_per_subject, MIN_SIZE, workers)


def _render(
    index: int, seed: int, height: int, width: int, samples_per_subject: int
) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng([seed, index])
    subject = index // samples_per_subject
    scene = sample_scene(rng)
    image, mask = draw_face(rng, subject_traits(seed, subject), scene, height, width)
    return image, mask, subject


def render_face(
    seed: int,
    index: int,
    height: int = 128,
    width: int = 128,
    *,
    samples_per_subject: int = 10,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Render scene ``index`` of stream ``seed``:
    ``(image uint8 [H, W, 3] RGB, mask uint8 [H, W] class ids, subject)``."""
    check_face_args(seed, height, width, samples_per_subject)
    int_at_least("index", index, 0)
    return _render(int(index), int(seed), int(height), int(width), int(samples_per_subject))


def generate_faces(
    n: int,
    seed: int,
    height: int = 128,
    width: int = 128,
    *,
    start: int = 0,
    samples_per_subject: int = 10,
    workers: int = 1,
) -> SyntheticFaces:
    """Generate scenes ``start..start+n-1``; any ``workers`` count gives identical output."""
    check_face_args(seed, height, width, samples_per_subject, workers=workers)
    height = int(height)
    width = int(width)
    common = (int(seed), height, width, int(samples_per_subject))
    outputs = [((height, width, 3), np.uint8), ((height, width), np.uint8), ((), np.int64)]
    images, masks, subjects = render_in_chunks(
        _render, n, start, workers, _MIN_PER_WORKER, common, outputs
    )
    return SyntheticFaces(images=images, masks=masks, subjects=subjects)
