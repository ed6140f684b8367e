"""Numpy rasteriser behind the synthetic OCEC eye crops (see ``eyes``).

A crop is drawn analytically on a pixel-centre grid: every pixel is mapped into an
"eye frame" (u across the eye from corner to corner in [-1, 1], v downwards, both in
units of the eye half-width) so rotation, scale, offset and mirroring cost nothing but
two affine maps. Shapes (eyelid curves, iris, pupil, lashes, brow, glasses) are soft
signed-distance coverages, composited with a handful of whole-array blends at 2x
resolution and area-averaged down, which keeps one 32x64 crop under a millisecond.
Camera effects (lighting gradient, IR greyscale, blur, noise, JPEG) come last.

Subject-level traits (skin, iris colour, eye shape, glasses) live in ``SubjectTraits``
so that all crops of one synthetic person share them; everything else is per crop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ocec_lightning.synthetic import raster

# Supersampling factor: 2 gives clean antialiased lid lines and lashes at ~4x the
# pixel work, which still fits the per-crop time budget.
SUPERSAMPLE = 2

_SKIN_ANCHORS = np.array(
    [[236, 204, 184], [214, 170, 140], [186, 134, 100], [140, 96, 68], [96, 64, 46]],
    dtype=np.float32,
)
_IRIS_PALETTE = np.array(
    [[58, 36, 24], [100, 62, 35], [128, 100, 55], [85, 115, 70], [80, 120, 165], [115, 125, 135]],
    dtype=np.float32,
)
_IRIS_PROBS = [0.3, 0.25, 0.12, 0.1, 0.15, 0.08]
_HAIR_PALETTE = np.array([[28, 24, 22], [70, 50, 35], [140, 110, 75]], dtype=np.float32)
_HAIR_PROBS = [0.5, 0.35, 0.15]
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class SubjectTraits:
    """Appearance shared by every crop of one synthetic subject (colours are RGB 0..255)."""

    skin: tuple[float, float, float]
    iris: tuple[float, float, float]
    sclera: tuple[float, float, float]
    hair: tuple[float, float, float]
    eye_width: float  # eye half-width as a fraction of the crop width
    lid_up: float  # upper-lid lift at openness 1, in half-widths
    lid_lo: float  # lower-lid drop at openness 1
    mix_up: float  # blend between sqrt and linear lid profile (eye roundness)
    skew_up: float  # shifts the upper-lid apex toward one corner
    mix_lo: float
    skew_lo: float
    tilt: float  # canthal tilt
    close_curve: float  # sag of the lid line when closed
    crease_gap: float
    crease_strength: float
    iris_radius: float
    pupil_ratio: float
    lash_len: float
    lash_dark: float
    lash_freq: float
    lash_thin: float
    brow: bool
    brow_gap: float
    brow_thick: float
    brow_curve: float
    brow_dark: float
    glasses: bool
    rim_v: float
    orbit_shadow: float
    lid_shadow: float


def sample_subject(rng: np.random.Generator) -> SubjectTraits:
    """Draw one subject's traits; the draw order is fixed so traits are reproducible."""
    skin = raster.blend_anchors(rng, _SKIN_ANCHORS) * rng.uniform(0.93, 1.07, 3)
    iris = _IRIS_PALETTE[rng.choice(len(_IRIS_PALETTE), p=_IRIS_PROBS)] * rng.uniform(0.8, 1.2, 3)
    sclera = np.array([235.0, 226.0, 220.0]) * rng.uniform(0.82, 1.0) * rng.uniform(0.97, 1.03, 3)
    hair = _HAIR_PALETTE[rng.choice(len(_HAIR_PALETTE), p=_HAIR_PROBS)] * rng.uniform(0.8, 1.2)
    rim_top = rng.random() < 0.5
    return SubjectTraits(
        skin=raster.rgb_tuple(skin),
        iris=raster.rgb_tuple(iris),
        sclera=raster.rgb_tuple(sclera),
        hair=raster.rgb_tuple(hair),
        eye_width=rng.uniform(0.27, 0.36),
        lid_up=rng.uniform(0.42, 0.62),
        lid_lo=rng.uniform(0.16, 0.30),
        mix_up=rng.random(),
        skew_up=rng.uniform(-0.2, 0.2),
        mix_lo=rng.random(),
        skew_lo=rng.uniform(-0.2, 0.2),
        tilt=rng.uniform(-0.12, 0.12),
        close_curve=rng.uniform(0.02, 0.14),
        crease_gap=rng.uniform(0.10, 0.30),
        crease_strength=rng.random() ** 0.7,
        iris_radius=rng.uniform(0.36, 0.46),
        pupil_ratio=rng.uniform(0.30, 0.50),
        lash_len=rng.uniform(0.10, 0.28),
        lash_dark=rng.uniform(0.5, 0.95),
        lash_freq=rng.uniform(7.0, 13.0),
        lash_thin=rng.uniform(0.2, 0.6),
        brow=bool(rng.random() < 0.7),
        brow_gap=rng.uniform(0.25, 0.55),
        brow_thick=rng.uniform(0.12, 0.25),
        brow_curve=rng.uniform(0.1, 0.3),
        brow_dark=rng.uniform(0.4, 0.9),
        glasses=bool(rng.random() < 0.22),
        rim_v=-rng.uniform(0.95, 1.25) if rim_top else rng.uniform(0.7, 0.95),
        orbit_shadow=rng.uniform(0.05, 0.25),
        lid_shadow=rng.uniform(0.15, 0.45),
    )


@lru_cache(maxsize=16)
def _upsample_mats(h_lo: int, w_lo: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear interpolation matrices so a low-res field upsamples with two matmuls."""
    return raster.interp_matrix(h_lo, h), raster.interp_matrix(w_lo, w).T.copy()


def _cover(dist: np.ndarray, px: float) -> np.ndarray:
    """Coverage of a shape from its signed distance (negative inside), 1 pixel ramp."""
    return np.clip(0.5 - dist / px, 0.0, 1.0)


def _gauss_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a CxHxW float image, edges clamped (repeated)."""
    r = max(1, int(math.ceil(2.5 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(np.float32)
    h, w = img.shape[1:]
    # Fancy-index padding is several times cheaper than np.pad on arrays this small.
    pad = img[:, np.clip(np.arange(-r, h + r), 0, h - 1)]
    out = pad[:, 0:h] * k[0]
    for i in range(1, 2 * r + 1):
        out += pad[:, i : i + h] * k[i]
    pad = out[:, :, np.clip(np.arange(-r, w + r), 0, w - 1)]
    out = pad[:, :, 0:w] * k[0]
    for i in range(1, 2 * r + 1):
        out += pad[:, :, i : i + w] * k[i]
    return out


def draw_eye(
    rng: np.random.Generator, t: SubjectTraits, openness: float, height: int, width: int
) -> np.ndarray:
    """Render one HxWx3 uint8 RGB crop of subject ``t`` with the given eyelid openness."""
    ss = SUPERSAMPLE
    yy, xx = raster.pixel_grid(height, width, ss)
    o = float(openness)

    # -- per-crop pose and camera draws (fixed order => reproducible per (seed, index))
    flip = rng.random() < 0.5
    ang = math.radians(rng.uniform(-15.0, 15.0))
    a = t.eye_width * width * rng.uniform(0.85, 1.15)
    cx = width * (0.5 + rng.uniform(-0.08, 0.08))
    cy = height * (0.55 + rng.uniform(-0.10, 0.10))
    gx = rng.uniform(-0.25, 0.25)
    gy = rng.uniform(-0.08, 0.12)
    ir = rng.random() < 0.2
    brightness = rng.uniform(0.65, 1.2)
    light_grad = rng.uniform(0.0, 0.35)
    light_dir = rng.uniform(0.0, 2 * math.pi)
    noise_lo = rng.normal(0.0, 0.05, (4, 8)).astype(np.float32)
    spec = rng.random() < 0.85
    spec_dx = rng.uniform(-0.6, 0.6)
    spec_dy = rng.uniform(-0.6, 0.3)
    spec_r = rng.uniform(0.05, 0.12)
    glare = rng.random() < (0.6 if t.glasses else 0.04)
    contrast = rng.uniform(0.75, 1.15)
    blur = rng.uniform(0.3, 1.1) if rng.random() < 0.5 else 0.0
    noise_sigma = rng.uniform(1.0, 8.0)
    jpeg_q = int(rng.integers(15, 90)) if rng.random() < 0.3 else 0

    # Images are channel-first while drawing: broadcasting a 2-D field over a trailing
    # channel axis of size 3 is several times slower in numpy.
    iris_rgb = raster.chw(t.iris)
    skin_rgb = raster.chw(t.skin)
    pupil_rgb = np.full((3, 1, 1), 14.0, dtype=np.float32)
    if ir:
        # Under near-IR irises look light grey, skin bright and even; a coaxial source
        # sometimes makes the pupil glow (bright-pupil effect).
        iris_rgb[:] = rng.uniform(90.0, 170.0)
        skin_rgb[:] = rng.uniform(150.0, 215.0)
        if rng.random() < 0.15:
            pupil_rgb[:] = rng.uniform(170.0, 230.0)

    # -- eye-frame coordinates
    dx, dy = xx - cx, yy - cy
    ca, sa = math.cos(ang) / a, math.sin(ang) / a
    u = dx * ca + dy * sa
    v = dy * ca - dx * sa
    if flip:
        u = -u
    px = 1.0 / (a * ss)  # one canvas pixel in eye units

    e, se = raster.lens_profile(u)
    prof_up = (se + t.mix_up * (e - se)) * (1.0 + t.skew_up * u)
    prof_lo = (se + t.mix_lo * (e - se)) * (1.0 - t.skew_lo * u)
    y_c = t.close_curve * e + t.tilt * u  # where the lids meet when closed
    y_up = y_c - (o * t.lid_up) * prof_up
    y_lo = y_c + (o * t.lid_lo) * prof_lo
    v_crease = y_c - (t.lid_up + t.crease_gap) * prof_up

    # -- skin: texture, orbital shadow and crease folded into one shading field
    my, mx = _upsample_mats(4, 8, height * ss, width * ss)
    shade = 1.0 + my @ noise_lo @ mx
    shade *= 1.0 - t.orbit_shadow * np.exp(-(0.6 * u * u + 1.5 * (v + 0.1) ** 2))
    # The crease flattens out as the lid drops over the eyeball and fades at the corners.
    crease = (0.35 * t.crease_strength * (0.25 + 0.75 * o)) * se * (v < y_up)
    shade *= 1.0 - crease * np.exp(-(((v - v_crease) / 0.06) ** 2))
    img = shade * skin_rgb

    # -- eye interior (sclera, iris, pupil, highlight), shadowed under the upper lid
    inside = np.minimum(v - y_up, y_lo - v)
    a_eye = np.clip(inside / px, 0.0, 1.0) * (e > 0)
    rows = np.flatnonzero(a_eye.max(axis=1) > 0)
    if rows.size:
        # Only the rows the lids leave open need the iris maths (none for a shut eye).
        b = slice(int(rows[0]), int(rows[-1]) + 1)
        ub = u[b]
        vb = v[b]
        ri = t.iris_radius
        dist = np.sqrt((ub - gx) ** 2 + (vb - gy) ** 2)
        a_iris = _cover(dist - ri, px)
        a_pupil = _cover(dist - ri * t.pupil_ratio, px)
        rad = np.clip(0.55 + 0.6 * dist / ri, 0.0, 1.2)
        rad *= 1.0 - 0.45 * np.clip((dist / ri - 0.82) / 0.18, 0.0, 1.0)
        lid_gap = np.maximum(vb - y_up[b], 0.0)
        shadow = (0.8 + 0.2 * se[b]) * (1.0 - t.lid_shadow * np.exp(-lid_gap / 0.12))
        wi = a_iris * (1.0 - a_pupil)
        inner = (
            (1.0 - a_iris) * raster.chw(t.sclera) + (wi * rad) * iris_rgb + a_pupil * pupil_rgb
        ) * shadow
        if spec:
            sd = np.sqrt((ub - gx - spec_dx * ri) ** 2 + (vb - gy - spec_dy * ri) ** 2)
            a_spec = _cover(sd - spec_r, px) * 0.9
            inner += (250.0 - inner) * a_spec
        img[:, b] += (inner - img[:, b]) * a_eye[b]

    # -- lash line, lash strands, lower-lid margin and brow: one blend toward hair colour
    gate = np.clip((1.05 - np.abs(u)) * 8.0, 0.0, 1.0)
    d_up = y_up - v  # >0 above the upper-lid margin
    dark = t.lash_dark * np.exp(-(((d_up - 0.015) / 0.05) ** 2)) * gate
    # Lashes curl upward on an open eye and hang down once the lid has dropped.
    w_down = min(max((0.4 - o) / 0.3, 0.0), 1.0)
    direction = 1.0 - 2.0 * w_down
    lash_len = t.lash_len * max(abs(direction), 0.25)
    ds = d_up if direction >= 0 else -d_up
    uu = u + ds * (1.2 * u)
    stripe = np.clip(
        (np.cos(uu * (2 * math.pi * t.lash_freq)) - t.lash_thin) / (1 - t.lash_thin), 0.0, 1.0
    )
    along = np.clip(1.0 - ds / lash_len, 0.0, 1.0) * (ds > 0)
    dark = np.maximum(dark, t.lash_dark * stripe * along * gate)
    dark = np.maximum(dark, 0.3 * np.exp(-(((v - y_lo) / 0.04) ** 2)) * gate)
    if t.brow:
        v_brow = y_c - (t.lid_up + t.crease_gap + t.brow_gap) + t.brow_curve * (u - 0.2) ** 2
        band = np.clip(1.0 - ((v - v_brow) / t.brow_thick) ** 2, 0.0, 1.0)
        hairs = 0.85 + 0.15 * np.cos(30.0 * u + 12.0 * v)
        bgate = np.clip((1.4 - np.abs(u - 0.1)) * 3.0, 0.0, 1.0)
        dark = np.maximum(dark, t.brow_dark * band * hairs * bgate)
    img += (raster.chw(t.hair) * 0.6 - img) * dark

    if t.glasses:
        rim = 0.8 * np.exp(-(((v - t.rim_v - 0.15 * u * u) / 0.05) ** 2))
        img *= 1.0 - rim

    # -- lighting, optional glare band, IR greyscale
    gx_n = 2.0 * light_grad * math.cos(light_dir) / width
    gy_n = 2.0 * light_grad * math.sin(light_dir) / height
    light = brightness * (1.0 + (xx - width / 2) * gx_n + (yy - height / 2) * gy_n)
    img *= light
    if glare:
        psi = rng.uniform(0.0, math.pi)
        off = rng.uniform(-0.3, 0.3) * width
        band_d = (xx - width / 2) * math.cos(psi) + (yy - height / 2) * math.sin(psi) - off
        a_glare = rng.uniform(0.2, 0.55) * np.exp(-((band_d / rng.uniform(2.0, 7.0)) ** 2))
        img += (rng.uniform(225.0, 255.0) - img) * a_glare
    if ir:
        img = np.tensordot(_LUMA, img, 1)[None]  # one channel, re-expanded at the end

    # -- camera: area downsample, contrast, blur, sensor noise, 8-bit, JPEG
    if ss > 1:
        # Strided adds: much faster than reshape(...).mean(axis=(1, 3)) in numpy.
        img = sum(img[:, :, j::ss] for j in range(ss))
        img = sum(img[:, i::ss] for i in range(ss)) * (1.0 / (ss * ss))
    img = (img - 128.0) * contrast + 128.0
    if blur > 0:
        img = _gauss_blur(img, blur)
    # An IR image is still one channel here, so its noise is shared by R, G and B.
    img = img + raster.normal_noise(rng, (img.shape[0], height, width)) * np.float32(noise_sigma)
    out = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    out = np.ascontiguousarray(np.broadcast_to(out, (3, height, width)).transpose(1, 2, 0))
    return raster.jpeg_roundtrip(out, jpeg_q) if jpeg_q else out
