"""The face frames of one synthetic scene and the painting of its regions.

Every pixel centre is mapped into two face frames, both in units of the face half-width
``a`` (pixels):

* ``(p, q)`` — the *image-plane* frame: translation to the face centre, roll removed,
  scaled by ``a``; ``p`` points to the image's right, ``q`` down. Silhouettes (face
  outline, head/hair volume, neck, shoulders) are drawn here.
* ``(u, v)`` — the *surface* frame: ``(p, q)`` unwrapped from a vertical cylinder
  (radius ``YAW_RADIUS``) rotated by the yaw and a horizontal one (``PITCH_RADIUS``)
  rotated by the pitch, ``u = R sin(asin(p / R) - yaw)``. A yaw therefore shifts the
  features sideways and compresses the side turned away; facial features (brows, eyes,
  nose, lips, hairline) are drawn here. The nose and mouth protrude, so they get an
  extra sideways shift proportional to ``sin(yaw)``.

Each region is a signed distance-like field ``inside`` (face units, positive inside)
evaluated on the pixel grid of its bounding box only. The *mask* gets the hard label
``inside > 0``; the *image* blends the region's colour with coverage
``clip(0.5 + inside * a, 0, 1)``, i.e. a one-pixel antialiasing ramp centred on exactly
the same boundary (``Canvas.paint``). Regions are painted back to front on both arrays,
so image and mask are aligned pixel-exactly (before the camera blur, which only touches
the image).
"""

from __future__ import annotations

import math

import numpy as np

from ocec_lightning.synthetic.faces_scene import Scene, SubjectTraits
from ocec_lightning.synthetic.raster import interp_matrix, pixel_grid

# Cylinder radii of the yaw / pitch unwrapping, in face half-widths. Features must stay
# within |u| < 0.9 so the warp is monotonic over them for |yaw| <= 35 degrees.
YAW_RADIUS = 1.05
PITCH_RADIUS = 1.8


def smooth_noise(rng: np.random.Generator, h: int, w: int, gh: int, gw: int) -> np.ndarray:
    """Smooth zero-mean noise field ``[h, w]`` (std ~0.5) from a ``gh x gw`` lattice."""
    coarse = rng.random((gh, gw), dtype=np.float32) - 0.5
    return interp_matrix(gh, h) @ coarse @ interp_matrix(gw, w).T


Box = tuple[slice, slice]


class Canvas:
    """Channel-first float image, uint8 mask and the face frames of one scene."""

    def __init__(self, s: Scene, t: SubjectTraits, height: int, width: int) -> None:
        self.h, self.w = height, width
        self.a = s.scale * min(height, width)  # pixels per face unit
        self.cx, self.cy = s.cx * width, s.cy * height
        self.cr, self.sr = math.cos(s.roll), math.sin(s.roll)
        self.cyaw, self.syaw = math.cos(s.yaw), math.sin(s.yaw)
        self.cpit, self.spit = math.cos(s.pitch), math.sin(s.pitch)
        yy, xx = pixel_grid(height, width)
        dx, dy = xx - self.cx, yy - self.cy
        inv = 1.0 / self.a
        self.p = (dx * self.cr + dy * self.sr) * inv
        self.q = (dy * self.cr - dx * self.sr) * inv
        self.u = self._unwrap(self.p, YAW_RADIUS, self.cyaw, self.syaw)
        self.v = self._unwrap(self.q, PITCH_RADIUS, self.cpit, self.spit)
        self.img = np.empty((3, height, width), dtype=np.float32)
        self.mask = np.zeros((height, width), dtype=np.uint8)
        # Signed inside-distance of the face silhouette (set when the face skin is painted);
        # the features are clipped by it, so under a strong yaw the far side slides out of
        # view.
        self.face = np.full((height, width), -1.0, dtype=np.float32)

    @staticmethod
    def _unwrap(x: np.ndarray, radius: float, c: float, s: float) -> np.ndarray:
        z = np.clip(x * (1.0 / radius), -1.0, 1.0)
        return (z * c - np.sqrt(1.0 - z * z) * s) * radius

    @staticmethod
    def _wrap(x: float, radius: float, c: float, s: float) -> float:
        z = min(max(x / radius, -1.0), 1.0)
        return (z * c + math.sqrt(1.0 - z * z) * s) * radius

    def box_pq(self, p0: float, p1: float, q0: float, q1: float) -> Box | None:
        """Pixel bounding box (with a 2 px margin) of an image-plane rectangle."""
        xs, ys = [], []
        for p in (p0, p1):
            for q in (q0, q1):
                xs.append(self.cx + self.a * (p * self.cr - q * self.sr))
                ys.append(self.cy + self.a * (p * self.sr + q * self.cr))
        x0 = max(int(math.floor(min(xs))) - 2, 0)
        x1 = min(int(math.ceil(max(xs))) + 2, self.w)
        y0 = max(int(math.floor(min(ys))) - 2, 0)
        y1 = min(int(math.ceil(max(ys))) + 2, self.h)
        if x0 >= x1 or y0 >= y1:
            return None
        return slice(y0, y1), slice(x0, x1)

    def q_of(self, v: float) -> float:
        """Image-plane ``q`` of surface ``v`` (inverse of the pitch unwrapping)."""
        return self._wrap(v, PITCH_RADIUS, self.cpit, self.spit)

    def box_uv(self, u0: float, u1: float, v0: float, v1: float) -> Box | None:
        """Pixel bounding box of a surface-frame rectangle (the warp is monotonic)."""
        p0 = self._wrap(u0, YAW_RADIUS, self.cyaw, self.syaw)
        p1 = self._wrap(u1, YAW_RADIUS, self.cyaw, self.syaw)
        q0 = self._wrap(v0, PITCH_RADIUS, self.cpit, self.spit)
        q1 = self._wrap(v1, PITCH_RADIUS, self.cpit, self.spit)
        return self.box_pq(p0, p1, q0, q1)

    def paint(
        self,
        box: Box,
        inside: np.ndarray,
        colour: np.ndarray,
        label: int | None,
        alpha: float | np.ndarray = 1.0,
    ) -> None:
        """Blend ``colour`` over ``box`` with coverage from ``inside`` (face units) and
        write ``label`` where ``inside > 0`` (no label: image only)."""
        cov = np.clip(inside * self.a + 0.5, 0.0, 1.0)
        if isinstance(alpha, np.ndarray) or alpha != 1.0:
            cov = cov * alpha
        reg = self.img[:, box[0], box[1]]
        reg += (colour - reg) * cov
        if label is not None:
            self.mask[box][inside > 0] = label
