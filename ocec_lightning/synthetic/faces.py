"""Procedural synthetic face-parsing scenes with LaPa-style index masks.

Classes (ids fixed, ``FACE_CLASSES[i]`` is id ``i``): 0 background, 1 skin, 2 left_brow,
3 right_brow, 4 left_eye, 5 right_eye, 6 nose, 7 upper_lip, 8 inner_mouth, 9 lower_lip,
10 hair. "Left" and "right" are from the **image's** point of view: ``left_eye`` is the
eye on the image's left half when the face looks at the camera (the subject's own right
eye). A horizontal flip of image and mask must therefore swap the ids in ``FLIP_PAIRS``.
The neck, ears-free sides of the head, clothes, background clutter and occluders are all
background (0), as in LaPa; teeth and tongue belong to inner_mouth, which only exists
while the mouth is open. This is the generator's own label map; ``conf/task/segmentation.yaml``
lists the same class names and flip pairs for the model side, and a test keeps them equal.

Every image is fully determined by ``(seed, index)``: the per-image draws (pose, scale,
position, eye openness, mouth, lighting, background clutter, blur, noise, JPEG) come
from ``np.random.default_rng([seed, index])`` and the subject-level traits (skin tone,
hair colour and style, lip and iris colour, face proportions) from
``np.random.default_rng([seed, SUBJECT_SALT, subject])`` with
``subject = index // samples_per_subject``. An image never depends on which other
indices are generated, in which order, batch or process. The scene is sampled in
size-independent units, so one ``(seed, index)`` rendered at 64, 128 or 256 pixels shows
the same face. The drawing lives in ``faces_render``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ocec_lightning.checks import int_at_least
from ocec_lightning.data.masks import swap_lut
from ocec_lightning.synthetic.common import check_render_args, render_in_chunks
from ocec_lightning.synthetic.faces_render import draw_face
from ocec_lightning.synthetic.faces_scene import (
    BALD,
    FACE_CLASSES,
    FLIP_PAIRS,
    LONG,
    MEDIUM,
    SHORT,
    Clutter,
    Scene,
    SubjectTraits,
)
from ocec_lightning.synthetic.raster import blend_anchors, rgb_tuple

__all__ = [
    "FACE_CLASSES",
    "FLIP_PAIRS",
    "MIN_SIZE",
    "SyntheticFaces",
    "check_face_args",
    "flip_face",
    "generate_faces",
    "render_face",
    "sample_scene",
    "sample_subject",
    "subject_traits",
]

# Salt separating the subject-trait stream from the per-image stream.
SUBJECT_SALT = 1_000_033
# Below this many images per worker a process pool costs more than it saves.
_MIN_PER_WORKER = 32
# Smallest height and width a scene is drawn at.
MIN_SIZE = 16

_SKIN_ANCHORS = np.array(
    [
        [246, 216, 198],
        [230, 190, 164],
        [208, 160, 124],
        [172, 122, 88],
        [130, 88, 62],
        [90, 60, 44],
    ],
    dtype=np.float64,
)
_HAIR_PALETTE = np.array(
    [[24, 20, 19], [58, 40, 30], [102, 72, 48], [128, 62, 34], [192, 160, 110], [168, 164, 160]],
    dtype=np.float64,
)
# Given the hair is not dyed (4% are, in a vivid random colour).
_HAIR_PROBS = [0.37, 0.27, 0.15, 0.07, 0.09, 0.05]
_IRIS_PALETTE = np.array(
    [[50, 32, 22], [92, 58, 34], [122, 96, 54], [84, 112, 70], [78, 116, 160], [112, 122, 132]],
    dtype=np.float64,
)
_IRIS_PROBS = [0.32, 0.26, 0.12, 0.1, 0.13, 0.07]
_LIPSTICKS = np.array([[168, 28, 48], [196, 78, 100], [122, 34, 44], [210, 100, 90]])


@dataclass(frozen=True)
class SyntheticFaces:
    """A generated batch of scenes, aligned along the first axis."""

    images: np.ndarray  # uint8 [n, H, W, 3] RGB
    masks: np.ndarray  # uint8 [n, H, W] class ids (FACE_CLASSES)
    subjects: np.ndarray  # int64 [n], index // samples_per_subject


def sample_subject(rng: np.random.Generator) -> SubjectTraits:
    """Draw one subject's traits; the draw order is fixed so traits are reproducible."""
    u = rng.uniform
    skin = blend_anchors(rng, _SKIN_ANCHORS) * u(0.94, 1.06, 3)
    lip = skin * np.array([0.84, 0.56, 0.58]) * u(0.88, 1.08)
    if rng.random() < 0.12:
        lip = _LIPSTICKS[rng.integers(len(_LIPSTICKS))] * u(0.85, 1.1)
    if rng.random() < 0.04:
        hair = u(30.0, 230.0, 3)  # dyed
    else:
        hair = _HAIR_PALETTE[rng.choice(len(_HAIR_PALETTE), p=_HAIR_PROBS)] * u(0.85, 1.15)
    # Brows are darker than the hair and never lighter than a mid-brown.
    brow = np.minimum(hair * u(0.55, 0.85), np.array([120.0, 95.0, 75.0]) * u(0.7, 1.1))
    iris = _IRIS_PALETTE[rng.choice(len(_IRIS_PALETTE), p=_IRIS_PROBS)] * u(0.85, 1.15, 3)
    sclera = np.array([232.0, 224.0, 216.0]) * u(0.8, 1.0) * u(0.97, 1.03, 3)

    style = int(rng.choice(4, p=[0.05, 0.33, 0.30, 0.32]))
    bangs = style != BALD and rng.random() < 0.2
    if bangs:
        hairline, curve = u(-0.56, -0.36), u(0.05, 0.3)
    elif style == SHORT:
        hairline, curve = u(-1.12, -0.78), u(0.1, 0.45)
    else:
        hairline, curve = u(-1.05, -0.7), u(0.15, 0.65)
    hair_cut = {BALD: 0.0, SHORT: u(-0.4, 0.15), MEDIUM: u(0.5, 1.1), LONG: u(0.3, 0.8)}[style]
    wide = style in (MEDIUM, LONG)
    return SubjectTraits(
        skin=rgb_tuple(skin),
        lip=rgb_tuple(lip),
        hair=rgb_tuple(hair),
        brow=rgb_tuple(brow),
        iris=rgb_tuple(iris),
        sclera=rgb_tuple(sclera),
        aspect=u(1.2, 1.42),
        jaw=u(0.1, 0.35),
        eye_x=u(0.34, 0.42),
        eye_y=u(-0.22, -0.08),
        eye_w=u(0.16, 0.22),
        eye_up=u(0.42, 0.62),
        eye_lo=u(0.22, 0.36),
        eye_tilt=u(-0.08, 0.15),
        iris_r=u(0.38, 0.48),
        brow_gap=u(0.21, 0.32),
        brow_arch=u(0.02, 0.07),
        brow_thick=u(0.035, 0.065),
        brow_out=u(1.1, 1.45),
        brow_density=u(0.6, 0.95),
        nose_len=u(0.4, 0.55),
        nose_w=u(0.13, 0.2),
        nose_top_w=u(0.05, 0.085),
        mouth_gap=u(0.18, 0.28),
        mouth_w=u(0.24, 0.36),
        lip_up=u(0.05, 0.09),
        lip_lo=u(0.06, 0.11),
        bow=u(0.1, 0.45),
        hair_style=style,
        hairline=hairline,
        hairline_curve=curve,
        hairline_tilt=u(-0.25, 0.25),
        hair_rx=u(1.15, 1.38) if wide else u(1.06, 1.22),
        hair_top=u(0.12, 0.45),
        hair_cut=hair_cut,
        hair_len=u(1.6, 3.5),
        hair_freq=u(25.0, 60.0),
        hair_gloss=u(0.0, 0.35),
    )


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    """Clutter colour: sometimes skin-like or hair-like so colour alone is not enough."""
    kind = rng.random()
    if kind < 0.2:
        return blend_anchors(rng, _SKIN_ANCHORS) * rng.uniform(0.8, 1.1, 3)
    if kind < 0.35:
        return _HAIR_PALETTE[rng.integers(len(_HAIR_PALETTE))] * rng.uniform(0.7, 1.2)
    return rng.uniform(0.0, 255.0, 3)


def _sample_clutter(rng: np.random.Generator) -> Clutter:
    u = rng.uniform
    kind = int(rng.integers(3))
    rx = u(0.03, 0.35)
    ry = u(0.008, 0.03) if kind == 2 else u(0.03, 0.35)
    return Clutter(
        kind=kind,
        x=u(-0.1, 1.1),
        y=u(-0.1, 1.1),
        rx=rx,
        ry=ry,
        angle=u(0.0, math.pi),
        colour=rgb_tuple(_random_colour(rng)),
        colour2=rgb_tuple(_random_colour(rng)),
        pattern=int(rng.integers(4)),
        freq=u(2.0, 14.0),
        alpha=u(0.6, 1.0),
    )


def sample_scene(rng: np.random.Generator) -> Scene:
    """Draw the per-image scene (pose, expression, lighting, background, camera)."""
    u = rng.uniform
    deg = math.pi / 180.0
    scale = u(0.24, 0.32)
    cx, cy = 0.5 + u(-0.07, 0.07), 0.55 + u(-0.05, 0.05)
    roll = float(np.clip(rng.normal(0.0, 8.0), -25.0, 25.0)) * deg
    yaw = float(np.clip(rng.normal(0.0, 13.0), -35.0, 35.0)) * deg
    pitch = u(-10.0, 10.0) * deg
    state = rng.random()
    if state < 0.05:  # blink
        base = u(0.0, 0.15)
    elif state < 0.25:  # half closed
        base = u(0.25, 0.55)
    else:
        base = u(0.55, 1.0)
    open_l = float(np.clip(base + u(-0.08, 0.08), 0.0, 1.0))
    open_r = float(np.clip(base + u(-0.08, 0.08), 0.0, 1.0))
    gaze_x, gaze_y, brow_raise = u(-1.0, 1.0), u(-0.5, 0.5), u(-0.02, 0.05)
    mouth_open = u(0.03, 0.2) if rng.random() < 0.4 else 0.0
    smile = u(-0.02, 0.06)
    teeth = u(0.2, 0.5) if rng.random() < 0.6 else 0.0
    hairline_shift, hair_wave, hair_phase = u(-0.05, 0.05), u(0.0, 1.0), u(0.0, 2 * math.pi)
    skin_jitter = rgb_tuple(u(0.95, 1.05, 3))
    side_light, brightness = u(-1.0, 1.0), u(0.65, 1.2)
    light_grad, light_dir = u(0.0, 0.6), u(0.0, 2 * math.pi)
    cast, contrast = rgb_tuple(u(0.94, 1.06, 3)), u(0.75, 1.15)
    bg0, bg1 = rgb_tuple(_random_colour(rng)), rgb_tuple(_random_colour(rng))
    bg_dir, bg_tex = u(0.0, 2 * math.pi), u(0.0, 0.5)
    clutter = tuple(_sample_clutter(rng) for _ in range(int(rng.integers(0, 7))))
    clothes = rgb_tuple(_random_colour(rng))
    neck_w, body_top, body_rx = u(0.45, 0.62), u(0.05, 0.5), u(1.6, 2.6)
    occluder = None
    if rng.random() < 0.07:
        colour = blend_anchors(rng, _SKIN_ANCHORS) if rng.random() < 0.5 else _random_colour(rng)
        occluder = (u(-0.6, 0.6), u(0.0, 1.0), u(0.15, 0.4), u(0.15, 0.4), rgb_tuple(colour))
    blur = u(0.3, 1.3) if rng.random() < 0.5 else 0.0
    noise = u(1.0, 9.0)
    jpeg = int(rng.integers(30, 90)) if rng.random() < 0.2 else 0
    return Scene(
        cx=cx, cy=cy, scale=scale, roll=roll, yaw=yaw, pitch=pitch,
        open_l=open_l, open_r=open_r, gaze_x=gaze_x, gaze_y=gaze_y, brow_raise=brow_raise,
        mouth_open=mouth_open, smile=smile, teeth=teeth,
        hairline_shift=hairline_shift, hair_wave=hair_wave, hair_phase=hair_phase,
        skin_jitter=skin_jitter, side_light=side_light, brightness=brightness,
        light_grad=light_grad, light_dir=light_dir, cast=cast, contrast=contrast,
        bg0=bg0, bg1=bg1, bg_dir=bg_dir, bg_tex=bg_tex, clutter=clutter, clothes=clothes,
        neck_w=neck_w, body_top=body_top, body_rx=body_rx, occluder=occluder,
        blur=blur, noise=noise, jpeg=jpeg,
    )  # fmt: skip


@lru_cache(maxsize=1024)
def subject_traits(seed: int, subject: int) -> SubjectTraits:
    """Traits of one subject; cached because ``samples_per_subject`` images share them."""
    return sample_subject(np.random.default_rng([seed, SUBJECT_SALT, subject]))


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
    height, width = int(height), int(width)
    common = (int(seed), height, width, int(samples_per_subject))
    outputs = [((height, width, 3), np.uint8), ((height, width), np.uint8), ((), np.int64)]
    images, masks, subjects = render_in_chunks(
        _render, n, start, workers, _MIN_PER_WORKER, common, outputs
    )
    return SyntheticFaces(images=images, masks=masks, subjects=subjects)
