"""What a synthetic face scene is made of, and how it is drawn from ``(seed, index)``.

``FACE_CLASSES[i]`` is class id ``i``: 0 background, 1 skin, 2 left_brow, 3 right_brow,
4 left_eye, 5 right_eye, 6 nose, 7 upper_lip, 8 inner_mouth, 9 lower_lip, 10 hair. The
neck, ears-free sides of the head, clothes, background clutter and occluders are all
background (0), as in LaPa; teeth and tongue belong to inner_mouth, which only exists
while the mouth is open. This is the generator's own label map, as a dataset ships one.
The model side reads class names and flip pairs from ``conf/task/segmentation.yaml``;
``tests/synthetic/test_faces.py`` fails if the two diverge.

Left/right convention: "left" means the image's left. ``left_eye`` / ``left_brow`` are
the features at ``u < 0`` (the surface frame of ``faces_render``), which appear on the
image's left half for a frontal face (the subject's anatomical right). The yaw warp is
monotonic in ``u`` over the feature range, so the left eye stays left of the right eye
for every sampled pose, and a horizontal flip of image and mask must swap ``FLIP_PAIRS``
to keep the convention.

The parameters come in two kinds. ``SubjectTraits`` (skin tone, hair colour and style,
lip and iris colour, face proportions) are shared by every image of one synthetic person
and drawn by ``subject_traits(seed, subject)`` from
``np.random.default_rng([seed, SUBJECT_SALT, subject])``. ``Scene`` holds the per-image
draws (pose, scale, position, eye openness, mouth, lighting, background clutter, blur,
noise, JPEG), drawn by ``sample_scene`` from the image's own stream. Both are in
size-independent units, so one ``(seed, index)`` rendered at 64, 128 or 256 pixels shows
the same face. ``faces_render`` draws them; ``faces`` is the generator that ties the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ocec_lightning.synthetic.raster import Colour, blend_anchors, rgb_tuple

FACE_CLASSES: list[str] = [
    "background",
    "skin",
    "left_brow",
    "right_brow",
    "left_eye",
    "right_eye",
    "nose",
    "upper_lip",
    "inner_mouth",
    "lower_lip",
    "hair",
]
FLIP_PAIRS: list[tuple[int, int]] = [(2, 3), (4, 5)]
(
    BACKGROUND,
    SKIN,
    LEFT_BROW,
    RIGHT_BROW,
    LEFT_EYE,
    RIGHT_EYE,
    NOSE,
    UPPER_LIP,
    INNER_MOUTH,
    LOWER_LIP,
    HAIR,
) = range(len(FACE_CLASSES))
# Hair styles (SubjectTraits.hair_style).
BALD, SHORT, MEDIUM, LONG = range(4)

# Salt separating the subject-trait stream from the per-image stream.
SUBJECT_SALT = 1_000_033

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
class SubjectTraits:
    """Appearance shared by every image of one synthetic subject.

    Colours are RGB 0..255; lengths are in face half-widths (``u``/``v`` units).
    """

    skin: Colour
    lip: Colour
    hair: Colour
    brow: Colour
    iris: Colour
    sclera: Colour
    aspect: float  # face half-height / half-width
    jaw: float  # narrowing of the lower face toward the chin
    eye_x: float  # eye centre |u|
    eye_y: float  # eye centre v
    eye_w: float  # eye half-width
    eye_up: float  # upper-lid height / eye_w at openness 1
    eye_lo: float  # lower-lid depth / eye_w at openness 1
    eye_tilt: float  # outer corner lift / eye_w
    iris_r: float  # iris radius / eye_w
    brow_gap: float  # eye centre to brow centre line
    brow_arch: float
    brow_thick: float  # half-thickness at the inner end
    brow_out: float  # outer end beyond the eye centre, / eye_w
    brow_density: float  # opacity of the brow colour over the skin
    nose_len: float
    nose_w: float  # half-width at the alae
    nose_top_w: float  # half-width of the bridge
    mouth_gap: float  # nose bottom to mouth line
    mouth_w: float  # mouth half-width
    lip_up: float  # upper-lip thickness at the centre
    lip_lo: float  # lower-lip thickness at the centre
    bow: float  # cupid's bow dip (fraction of lip_up)
    hair_style: int  # BALD, SHORT, MEDIUM or LONG
    hairline: float  # v of the fringe/hairline at u = 0
    hairline_curve: float  # how far the hairline comes down at the temples
    hairline_tilt: float  # side parting / swept fringe
    hair_rx: float  # head (hair volume) half-width
    hair_top: float  # hair volume above the face top
    hair_cut: float  # q where short/medium back hair ends
    hair_len: float  # q where long hair ends
    hair_freq: float  # strand frequency (per face unit)
    hair_gloss: float


@dataclass(frozen=True)
class Clutter:
    """One background shape, in fractions of the image (x of width, y of height)."""

    kind: int  # 0 ellipse, 1 rotated rectangle, 2 bar (thin long rectangle)
    x: float
    y: float
    rx: float  # half-sizes as fractions of min(H, W)
    ry: float
    angle: float
    colour: Colour
    colour2: Colour
    pattern: int  # 0 flat, 1 stripes, 2 checker, 3 gradient
    freq: float  # pattern cycles per min(H, W)
    alpha: float


@dataclass(frozen=True)
class Scene:
    """Per-image draws: pose, expression, lighting, background and camera."""

    cx: float  # face centre, fraction of width
    cy: float  # fraction of height
    scale: float  # face half-width, fraction of min(H, W)
    roll: float  # radians; > 0 turns the face clockwise on screen
    yaw: float  # > 0 turns the face toward the image's right (its right side shrinks)
    pitch: float  # > 0 tilts the face down (features move down)
    open_l: float  # eyelid openness 0..1
    open_r: float
    gaze_x: float  # -1..1
    gaze_y: float
    brow_raise: float
    mouth_open: float  # lip separation in face units (0 = closed)
    smile: float
    teeth: float  # fraction of the opening showing upper teeth
    hairline_shift: float
    hair_wave: float
    hair_phase: float
    skin_jitter: Colour  # per-image multiplicative colour jitter (makeup, exposure)
    side_light: float  # -1..1, horizontal shading of the face
    brightness: float
    light_grad: float
    light_dir: float
    cast: Colour
    contrast: float
    bg0: Colour
    bg1: Colour
    bg_dir: float
    bg_tex: float
    clutter: tuple[Clutter, ...]
    clothes: Colour
    neck_w: float
    body_top: float
    body_rx: float
    occluder: tuple[float, float, float, float, Colour] | None  # u, v, rx, ry, colour
    blur: float  # Gaussian sigma in pixels at 128 px (scaled with the size)
    noise: float  # sensor noise sigma (0..255 units)
    jpeg: int  # JPEG quality, 0 = none


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
    gaze_x = u(-1.0, 1.0)
    gaze_y = u(-0.5, 0.5)
    brow_raise = u(-0.02, 0.05)
    mouth_open = u(0.03, 0.2) if rng.random() < 0.4 else 0.0
    smile = u(-0.02, 0.06)
    teeth = u(0.2, 0.5) if rng.random() < 0.6 else 0.0
    hairline_shift = u(-0.05, 0.05)
    hair_wave = u(0.0, 1.0)
    hair_phase = u(0.0, 2 * math.pi)
    skin_jitter = rgb_tuple(u(0.95, 1.05, 3))
    side_light = u(-1.0, 1.0)
    brightness = u(0.65, 1.2)
    light_grad = u(0.0, 0.6)
    light_dir = u(0.0, 2 * math.pi)
    cast = rgb_tuple(u(0.94, 1.06, 3))
    contrast = u(0.75, 1.15)
    bg0 = rgb_tuple(_random_colour(rng))
    bg1 = rgb_tuple(_random_colour(rng))
    bg_dir = u(0.0, 2 * math.pi)
    bg_tex = u(0.0, 0.5)
    clutter = tuple(_sample_clutter(rng) for _ in range(int(rng.integers(0, 7))))
    clothes = rgb_tuple(_random_colour(rng))
    neck_w = u(0.45, 0.62)
    body_top = u(0.05, 0.5)
    body_rx = u(1.6, 2.6)
    occluder = None
    if rng.random() < 0.07:
        colour = blend_anchors(rng, _SKIN_ANCHORS) if rng.random() < 0.5 else _random_colour(rng)
        occluder = (u(-0.6, 0.6), u(0.0, 1.0), u(0.15, 0.4), u(0.15, 0.4), rgb_tuple(colour))
    blur = u(0.3, 1.3) if rng.random() < 0.5 else 0.0
    noise = u(1.0, 9.0)
    jpeg = int(rng.integers(30, 90)) if rng.random() < 0.2 else 0
    return Scene(
        cx=cx,
        cy=cy,
        scale=scale,
        roll=roll,
        yaw=yaw,
        pitch=pitch,
        open_l=open_l,
        open_r=open_r,
        gaze_x=gaze_x,
        gaze_y=gaze_y,
        brow_raise=brow_raise,
        mouth_open=mouth_open,
        smile=smile,
        teeth=teeth,
        hairline_shift=hairline_shift,
        hair_wave=hair_wave,
        hair_phase=hair_phase,
        skin_jitter=skin_jitter,
        side_light=side_light,
        brightness=brightness,
        light_grad=light_grad,
        light_dir=light_dir,
        cast=cast,
        contrast=contrast,
        bg0=bg0,
        bg1=bg1,
        bg_dir=bg_dir,
        bg_tex=bg_tex,
        clutter=clutter,
        clothes=clothes,
        neck_w=neck_w,
        body_top=body_top,
        body_rx=body_rx,
        occluder=occluder,
        blur=blur,
        noise=noise,
        jpeg=jpeg,
    )


@lru_cache(maxsize=1024)
def subject_traits(seed: int, subject: int) -> SubjectTraits:
    """Traits of one subject; cached because ``samples_per_subject`` images share them."""
    return sample_subject(np.random.default_rng([seed, SUBJECT_SALT, subject]))
