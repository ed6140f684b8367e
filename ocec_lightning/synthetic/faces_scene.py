"""What a synthetic face scene is made of: class ids, subject traits and per-image draws.

``FACE_CLASSES[i]`` is class id ``i``: the generator's own label map, as a dataset ships
one. The model side reads class names and flip pairs from ``conf/task/segmentation.yaml``;
``tests/synthetic/test_faces.py`` fails if the two diverge.

Left/right convention: "left" means the image's left. ``left_eye`` / ``left_brow`` are
the features at ``u < 0`` (the surface frame of ``faces_canvas``), which appear on the
image's left half for a frontal face (the subject's anatomical right). The yaw warp is
monotonic in ``u`` over the feature range, so the left eye stays left of the right eye
for every sampled pose, and a horizontal flip of image and mask must swap ``FLIP_PAIRS``
to keep the convention.

The samplers that fill ``SubjectTraits`` and ``Scene`` live in ``faces``; the renderer
that draws them in ``faces_render``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocec_lightning.synthetic.raster import Colour

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
