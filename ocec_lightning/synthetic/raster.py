"""Numpy drawing primitives shared by the synthetic eye and face rasterisers.

Images are channel-first float32 while drawing (see ``eyes_render`` and
``faces_render``); these helpers give the pixel grid, colours shaped to
broadcast over such images, smooth-field interpolation, Gaussian sensor noise and the
JPEG round trip. Every function is deterministic for the same inputs (and the same
``rng`` state), so the generators stay reproducible per ``(seed, index)``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

Colour = tuple[float, float, float]


@lru_cache(maxsize=16)
def pixel_grid(height: int, width: int, ss: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(y, x)`` of an ``height x width`` image sampled ``ss``
    times per pixel along each axis, in output-pixel units (read-only, cached)."""
    ys = (np.arange(height * ss, dtype=np.float32) + 0.5) / ss
    xs = (np.arange(width * ss, dtype=np.float32) + 0.5) / ss
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    yy.flags.writeable = False
    xx.flags.writeable = False
    return yy, xx


@lru_cache(maxsize=32)
def interp_matrix(n_lo: int, n: int) -> np.ndarray:
    """``[n, n_lo]`` linear-interpolation matrix (upsampling a coarse axis to ``n``), so a
    low-resolution field upsamples with two matmuls (read-only, cached)."""
    pos = (np.arange(n, dtype=np.float64) + 0.5) / n * (n_lo - 1)
    i0 = np.clip(np.floor(pos).astype(int), 0, n_lo - 2)
    frac = pos - i0
    m = np.zeros((n, n_lo), dtype=np.float32)
    m[np.arange(n), i0] = 1.0 - frac
    m[np.arange(n), i0 + 1] = frac
    m.flags.writeable = False
    return m


def chw(rgb: Colour | np.ndarray) -> np.ndarray:
    """An RGB colour shaped ``(3, 1, 1)`` to broadcast over channel-first images."""
    return np.asarray(rgb, dtype=np.float32).reshape(3, 1, 1)


def rgb_tuple(c: np.ndarray) -> Colour:
    """A colour clipped to 0..255 as a tuple of floats (hashable, for frozen traits)."""
    c = np.clip(c, 0.0, 255.0)
    return (float(c[0]), float(c[1]), float(c[2]))


def blend_anchors(rng: np.random.Generator, anchors: np.ndarray) -> np.ndarray:
    """A random point on the polyline through ``anchors`` (rows), e.g. a skin tone."""
    tone = rng.random() * (len(anchors) - 1)
    lo = int(tone)
    hi = min(lo + 1, len(anchors) - 1)
    return anchors[lo] + (anchors[hi] - anchors[lo]) * (tone - lo)


def lens_profile(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Profiles across a lens-shaped feature (an eye, the lips), ``t`` running from -1 to 1
    between its corners: ``e = max(1 - t^2, 0)`` (parabolic) and ``sqrt(e)`` (elliptic)."""
    e = np.maximum(1.0 - t * t, 0.0)
    return e, np.sqrt(e)


def normal_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal float32 noise by Box-Muller: about 2-3x cheaper than
    ``Generator.standard_normal`` here, since uniforms are cheap and both outputs are used."""
    n = math.prod(shape)
    half = (n + 1) // 2
    rad = np.sqrt(-2.0 * np.log1p(-rng.random(half, dtype=np.float32)))  # 1 - u in (0, 1]
    theta = rng.random(half, dtype=np.float32) * np.float32(2.0 * math.pi)
    return np.concatenate([rad * np.cos(theta), rad * np.sin(theta)])[:n].reshape(shape)


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """JPEG encode/decode round trip of an ``[H, W, 3]`` RGB uint8 image (contiguous)."""
    # OpenCV's codec is ~4x faster than PIL's for tiny images; it expects BGR order.
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - encoding a valid uint8 image does not fail
        return np.ascontiguousarray(img)
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
