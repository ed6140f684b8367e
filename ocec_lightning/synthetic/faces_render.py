"""Numpy rasteriser behind the synthetic face-parsing scenes: a ``Scene`` to image + mask.

One module because it is one algorithm: every region below is painted by the same
``Canvas`` in one fixed order, and the order, the face frames and each region's field
only make sense together. ``draw_face`` paints back to front (later wins in the mask):
background + clutter (0), shoulders (0), back hair (10), neck (0: skin-coloured but
unlabelled, as in LaPa), face skin (1), brows (2/3), eyes (4/5), nose (6), lips (7/9)
and open mouth (8), fringe (10), rare occluder (0). Camera effects (lighting gradient,
colour cast, contrast, blur, noise, JPEG) touch the image only. The image is rendered
at 1x: the coverage ramp already antialiases every edge, and a 2x supersample would
quadruple the cost.

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
the image). The facial features are clipped by the face silhouette (``Canvas.face``), so
that under a strong yaw the far side slides out of view; lash lines, creases, nostrils and
the line where the lips meet are shading only: they touch the image, not the mask.

What is drawn (the label map, ``SubjectTraits``, ``Scene``) lives in ``faces_scene``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ocec_lightning.synthetic.faces_scene import (
    BACKGROUND,
    BALD,
    HAIR,
    INNER_MOUTH,
    LEFT_BROW,
    LEFT_EYE,
    LONG,
    LOWER_LIP,
    NOSE,
    RIGHT_BROW,
    RIGHT_EYE,
    SKIN,
    UPPER_LIP,
    Scene,
    SubjectTraits,
)
from ocec_lightning.synthetic.raster import (
    chw,
    interp_matrix,
    jpeg_roundtrip,
    lens_profile,
    normal_noise,
    pixel_grid,
)

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


def _background(c: Canvas, s: Scene, rng: np.random.Generator) -> None:
    h, w = c.h, c.w
    yy, xx = pixel_grid(h, w)
    m = float(min(h, w))
    ramp = np.clip(
        ((xx - w / 2) * math.cos(s.bg_dir) + (yy - h / 2) * math.sin(s.bg_dir)) / m + 0.5,
        0.0,
        1.0,
    )
    tex = 1.0 + s.bg_tex * smooth_noise(rng, h, w, 6, 6)
    c0, c1 = chw(s.bg0), chw(s.bg1)
    c.img[:] = (c0 + (c1 - c0) * ramp) * tex
    for sh in s.clutter:
        x, y = sh.x * w, sh.y * h
        rx, ry = max(sh.rx * m, 1.0), max(sh.ry * m, 1.0)
        reach = math.hypot(rx, ry) + 2
        y0, y1 = max(int(y - reach), 0), min(int(y + reach) + 1, h)
        x0, x1 = max(int(x - reach), 0), min(int(x + reach) + 1, w)
        if y0 >= y1 or x0 >= x1:
            continue
        box = (slice(y0, y1), slice(x0, x1))
        ca, sa = math.cos(sh.angle), math.sin(sh.angle)
        dx, dy = xx[box] - x, yy[box] - y
        lx = dx * ca + dy * sa
        ly = dy * ca - dx * sa
        if sh.kind == 0:
            k = np.sqrt((lx / rx) ** 2 + (ly / ry) ** 2)
            inside = (1.0 - k) * min(rx, ry)
        else:
            inside = np.minimum(rx - np.abs(lx), ry - np.abs(ly))
        cov = np.clip(inside + 0.5, 0.0, 1.0) * sh.alpha
        col, col2 = chw(sh.colour), chw(sh.colour2)
        f = 2.0 * math.pi * sh.freq / m
        if sh.pattern == 1:
            colour = col + (col2 - col) * (np.sin(lx * f) > 0)
        elif sh.pattern == 2:
            colour = col + (col2 - col) * ((np.sin(lx * f) * np.sin(ly * f)) > 0)
        elif sh.pattern == 3:
            colour = col + (col2 - col) * np.clip(0.5 + lx / (2 * rx), 0.0, 1.0)
        else:
            colour = col
        reg = c.img[:, box[0], box[1]]
        reg += (colour - reg) * cov


def _body(c: Canvas, s: Scene, t: SubjectTraits) -> None:
    """Shoulders / clothes (background)."""
    ar = t.aspect
    rx, ry = s.body_rx, 1.4
    qc = ar + s.body_top + ry
    box = c.box_pq(-rx, rx, qc - ry, qc + ry)
    if box is not None:
        p, q = c.p[box], c.q[box]
        k = np.sqrt((p * (1.0 / rx)) ** 2 + ((q - qc) * (1.0 / ry)) ** 2)
        tex = 1.0 + 0.15 * np.sin(p * 9.0 + q * 3.0) * (s.bg_tex + 0.2)
        c.paint(box, (1.0 - k) * ry, chw(s.clothes) * tex * (1.0 - 0.25 * (k > 0.9)), None)


def _neck(c: Canvas, s: Scene, t: SubjectTraits) -> None:
    """Skin-coloured neck, labelled background as in LaPa, shadowed under the jaw. Drawn
    over the back hair (long hair falls behind it) and under the face; it ends where the
    clothes begin."""
    ar = t.aspect
    chin = 0.25 * c.syaw
    nw, q0, q1 = s.neck_w, 0.25 * ar, ar + s.body_top + 0.05
    box = c.box_pq(chin - nw, chin + nw, q0, q1)
    if box is None:
        return
    p, q = c.p[box], c.q[box]
    inside = np.minimum(nw - np.abs(p - chin), np.minimum(q - q0, q1 - q))
    shade = 0.55 + 0.3 * np.clip((q - ar) * 1.5, 0.0, 1.0) - 0.12 * s.side_light * (p - chin)
    skin = chw(t.skin) * chw(s.skin_jitter)
    c.paint(box, inside, skin * shade, BACKGROUND)


def _back_hair(c: Canvas, s: Scene, t: SubjectTraits) -> None:
    if t.hair_style == BALD:
        return
    ar = t.aspect
    hx = -0.3 * c.syaw  # the back of the head shows on the side turned away
    rx, ry = t.hair_rx, (2.0 * ar + t.hair_top) / 2.0 + 0.1
    hy = -ar - t.hair_top + ry
    bottom = t.hair_len if t.hair_style == LONG else t.hair_cut
    box = c.box_pq(hx - rx, hx + rx, hy - ry, max(bottom, hy + ry))
    if box is None:
        return
    p, q = c.p[box], c.q[box]
    k = np.sqrt(((p - hx) * (1.0 / rx)) ** 2 + ((q - hy) * (1.0 / ry)) ** 2)
    inside = np.minimum((1.0 - k) * rx, t.hair_cut - q)
    if t.hair_style == LONG:
        drape = np.minimum(rx * 0.97 - np.abs(p - hx), np.minimum(t.hair_len - q, q - hy))
        # Below the chin the hair falls over the shoulders, leaving the chest free.
        chest = np.abs(p - 0.25 * c.syaw) - 0.55 * np.clip((q - 0.3 * ar) * 2.0, 0.0, 1.0)
        inside = np.maximum(inside, np.minimum(drape, chest))
    c.paint(box, inside, _hair_colour(c, box, t, s, True), HAIR)


def _face(c: Canvas, s: Scene, t: SubjectTraits, rng: np.random.Generator) -> np.ndarray:
    """Face skin; returns the skin colour ``(3, 1, 1)`` used for the features."""
    ar = t.aspect
    chin = 0.25 * c.syaw
    box = c.box_pq(-1.15 + min(chin, 0), 1.15 + max(chin, 0), -ar - 0.1, ar + 0.1)
    skin = chw(t.skin) * chw(s.skin_jitter)
    if box is None:
        return skin
    p, q = c.p[box], c.q[box]
    low = np.clip(q * (1.0 / ar), 0.0, 1.0)
    pw = p - chin * low
    width = 1.0 - t.jaw * low * low
    k2 = (pw / width) ** 2 + (q * (1.0 / ar)) ** 2
    inside = (1.0 - np.sqrt(k2)) * 0.9
    c.face[box] = inside
    # Rounded-surface shading, side light and blotchy texture.
    nz = np.sqrt(np.maximum(1.0 - k2, 0.0))
    hb, wb = inside.shape
    tex = smooth_noise(rng, hb, wb, 5, 5)
    shade = (0.7 + 0.3 * nz) * (1.0 + 0.25 * s.side_light * pw) * (1.0 + 0.12 * tex)
    c.paint(box, inside, skin * shade, SKIN)
    return skin


def _hair_colour(c: Canvas, box: Box, t: SubjectTraits, s: Scene, dense: bool) -> np.ndarray:
    """Hair texture on ``box``: strands along the hair flow, gloss band, shading."""
    p, q = c.p[box], c.q[box]
    flow = p * t.hair_freq + np.sin(q * 2.3 + s.hair_phase) * (1.5 + 3.0 * s.hair_wave)
    strands = 0.82 + 0.18 * np.cos(flow) * np.cos(flow * 0.37 + q)
    r2 = p * p + (q + 0.6) ** 2
    gloss = t.hair_gloss * np.exp(-((r2 - 1.2) ** 2) * 3.0)
    shade = strands * (1.0 + gloss - 0.15 * s.side_light * p)
    if dense:
        shade = shade * (1.0 - 0.25 * np.clip(q - 0.5, 0.0, 1.0))
    return chw(t.hair) * shade


def _brows(c: Canvas, s: Scene, t: SubjectTraits) -> None:
    ew = t.eye_w
    base = t.eye_y - t.brow_gap - s.brow_raise
    for side, label in ((-1.0, LEFT_BROW), (1.0, RIGHT_BROW)):
        u_in = side * (t.eye_x - 0.85 * ew)
        u_out = side * (t.eye_x + t.brow_out * ew)
        top = base - t.brow_arch - t.brow_thick
        box = c.box_uv(min(u_in, u_out), max(u_in, u_out), top, base + t.brow_thick)
        if box is None:
            continue
        u, v = c.u[box], c.v[box]
        length = abs(u_out - u_in)
        tt = (u - u_in) * (1.0 / (u_out - u_in))
        tc = np.clip(tt, 0.0, 1.0)
        vc = base - t.brow_arch * np.sin(tc * (math.pi * 0.85)) + 0.3 * t.brow_arch * tc
        half = t.brow_thick * (1.0 - 0.55 * tc)
        inside = np.minimum(half - np.abs(v - vc), np.minimum(tt, 1.0 - tt) * length)
        inside = np.minimum(inside, c.face[box])
        hairs = 0.85 + 0.3 * np.cos((u * side * 0.8 - v) * 70.0)
        c.paint(box, inside, chw(t.brow) * hairs, label, t.brow_density)


def _eyes(c: Canvas, s: Scene, t: SubjectTraits) -> None:
    ew = t.eye_w
    up, lo = t.eye_up * ew, t.eye_lo * ew
    ri = t.iris_r * ew
    for side, label, openness in ((-1.0, LEFT_EYE, s.open_l), (1.0, RIGHT_EYE, s.open_r)):
        ex = side * t.eye_x
        box = c.box_uv(ex - 1.05 * ew, ex + 1.05 * ew, t.eye_y - 2.2 * up, t.eye_y + lo + 0.04)
        if box is None:
            continue
        u, v = c.u[box], c.v[box]
        tt = (u - ex) * (1.0 / ew)
        e, se = lens_profile(tt)
        outer = tt * side  # +1 at the outer corner of either eye
        mid = t.eye_y - t.eye_tilt * ew * outer
        y_up = mid - (openness * up) * se * (1.0 + 0.15 * outer)
        y_lo = mid + (openness * lo) * (0.5 * (se + e))
        inside = np.minimum(np.minimum(v - y_up, y_lo - v), c.face[box])
        if openness > 0.0:
            ix = ex + s.gaze_x * 0.4 * ew
            iy = t.eye_y + s.gaze_y * 0.15 * ew
            d = np.sqrt((u - ix) ** 2 + (v - iy) ** 2)
            a_iris = np.clip((ri - d) * c.a + 0.5, 0.0, 1.0)
            a_pup = np.clip((0.45 * ri - d) * c.a + 0.5, 0.0, 1.0)
            ring = 0.75 + 0.35 * np.clip(d * (1.0 / ri), 0.0, 1.0)
            shadow = 0.62 + 0.38 * np.clip((v - y_up) * (1.0 / (0.5 * up + 1e-3)), 0.0, 1.0)
            sclera = chw(t.sclera)
            col = sclera + (chw(t.iris) * ring - sclera) * a_iris
            col = col + (14.0 - col) * a_pup
            hx, hy = ix + 0.3 * ri * side, iy - 0.35 * ri
            a_hi = np.clip((0.22 * ri - np.sqrt((u - hx) ** 2 + (v - hy) ** 2)) * c.a + 0.5, 0, 1)
            col = (col + (245.0 - col) * a_hi) * shadow
            c.paint(box, inside, col, label)
        # Lash line straddling the upper lid and a faint crease above it (image only).
        gate = np.clip((1.05 - np.abs(tt)) * 6.0, 0.0, 1.0)
        lash = 0.75 * np.exp(-(((y_up - v) * (1.0 / (0.05 * ew + 0.6 / c.a))) ** 2))
        crease_v = mid - 1.7 * up * se
        crease = 0.18 * np.exp(-(((v - crease_v) * (1.0 / (0.05 * ew + 0.5 / c.a))) ** 2))
        reg = c.img[:, box[0], box[1]]
        reg *= 1.0 - (lash + crease) * gate


def _nose(c: Canvas, s: Scene, t: SubjectTraits, skin: np.ndarray) -> None:
    top = t.eye_y + 0.03
    bot = top + t.nose_len
    nw = t.nose_w
    shift = 0.22 * c.syaw  # the tip protrudes, so it moves with the yaw
    box = c.box_uv(-nw + min(shift, 0), nw + max(shift, 0), top, bot + 0.02)
    if box is None:
        return
    u, v = c.u[box], c.v[box]
    r = np.clip((v - top) * (1.0 / t.nose_len), 0.0, 1.0)
    un = u - shift * r
    half = t.nose_top_w + (nw - t.nose_top_w) * r * r
    rb = 0.45 * nw
    z = np.maximum(v - (bot - rb), 0.0) * (1.0 / rb)
    half = half * np.sqrt(np.maximum(1.0 - z * z, 0.0))
    inside = np.minimum(np.minimum(half - np.abs(un), v - top), c.face[box])
    # Shading only: bridge side shadow, alar crease, nostrils, tip highlight.
    side = np.clip(un / (half + 1e-3), -1.0, 1.0)
    shade = 1.0 - 0.18 * side * (s.side_light - 0.4 * c.syaw) - 0.06 * np.abs(side)
    shade = shade - 0.35 * r * r * np.exp(-((inside * (1.0 / 0.03)) ** 2))
    tip = np.exp(-((un * (1.0 / (0.45 * nw))) ** 2 + ((v - bot + rb) * (1.0 / (0.6 * rb))) ** 2))
    shade = shade + 0.18 * tip
    for sgn in (-1.0, 1.0):
        nx = un - sgn * 0.5 * nw
        ny = v - (bot - 0.3 * rb)
        k = np.sqrt((nx * (1.0 / (0.28 * nw))) ** 2 + (ny * (1.0 / (0.13 * nw))) ** 2)
        shade = shade - 0.55 * np.clip((1.0 - k) * 0.13 * nw * c.a + 0.5, 0.0, 1.0)
    c.paint(box, inside, skin * shade, NOSE)


def _mouth(c: Canvas, s: Scene, t: SubjectTraits) -> None:
    mw = t.mouth_w
    um = 0.12 * c.syaw
    vm = t.eye_y + 0.03 + t.nose_len + t.mouth_gap
    g = s.mouth_open
    box = c.box_uv(um - mw, um + mw, vm - t.lip_up - 0.05, vm + g + t.lip_lo + 0.05)
    if box is None:
        return
    u, v = c.u[box], c.v[box]
    tt = (u - um) * (1.0 / mw)
    e, se = lens_profile(tt)
    y_mid = vm - s.smile * (tt * tt - 0.3)
    y_ub = y_mid - 0.3 * g * se
    y_lt = y_mid + 0.7 * g * se
    y_top = y_ub - t.lip_up * se * (1.0 - t.bow * np.exp(-((tt * 6.0) ** 2)))
    y_lb = y_lt + t.lip_lo * (0.5 * (se + e))
    lip = chw(t.lip) * chw(s.skin_jitter)
    rel = np.clip((v - y_lt) * (1.0 / (t.lip_lo + 1e-3)), 0.0, 1.0)
    face = c.face[box]
    c.paint(
        box, np.minimum(np.minimum(v - y_top, y_ub - v), face), lip * (0.8 + 0.08 * se), UPPER_LIP
    )
    lower = lip * (0.95 + 0.3 * np.exp(-(((rel - 0.35) * 4.0) ** 2)) * se)
    c.paint(box, np.minimum(np.minimum(v - y_lt, y_lb - v), face), lower, LOWER_LIP)
    if g > 0.0:
        depth = np.clip((v - y_ub) * (1.0 / (y_lt - y_ub + 1e-3)), 0.0, 1.0)
        inner = chw((70.0, 18.0, 24.0)) * (0.5 + 0.5 * se)
        tongue = chw((170.0, 75.0, 80.0)) * se
        inner = inner + (tongue - inner) * np.clip((depth - 0.6) * 3.0, 0.0, 1.0)
        if s.teeth > 0.0:
            teeth = chw((225.0, 220.0, 205.0)) * (0.7 + 0.3 * se)
            inner = inner + (teeth - inner) * np.clip((s.teeth - depth) * c.a * 0.3, 0.0, 1.0)
        c.paint(box, np.minimum(np.minimum(v - y_ub, y_lt - v), face), inner, INNER_MOUTH)
    # Dark line where the lips meet (image only).
    line = 0.45 * np.exp(-(((v - y_mid) * (1.0 / (0.012 + 0.6 / c.a))) ** 2)) * se
    reg = c.img[:, box[0], box[1]]
    reg *= 1.0 - line


def _fringe(c: Canvas, s: Scene, t: SubjectTraits) -> None:
    if t.hair_style == BALD:
        return
    ar = t.aspect
    hl = t.hairline + s.hairline_shift
    lowest = c.q_of(hl + t.hairline_curve + abs(t.hairline_tilt) + 0.1)
    box = c.box_pq(-1.2, 1.2, -ar - 0.1, min(lowest, ar + 0.1))
    if box is None:
        return
    u, v = c.u[box], c.v[box]
    line = (
        hl
        + t.hairline_curve * u * u
        + t.hairline_tilt * u
        + 0.03 * s.hair_wave * np.sin(u * 14.0 + s.hair_phase)
    )
    inside = np.minimum(line - v, c.face[box] + 0.05)
    c.paint(box, inside, _hair_colour(c, box, t, s, False), HAIR)


def _occluder(c: Canvas, s: Scene) -> None:
    if s.occluder is None:
        return
    ou, ov, rx, ry, colour = s.occluder
    box = c.box_uv(ou - rx, ou + rx, ov - ry, ov + ry)
    if box is None:
        return
    u, v = c.u[box], c.v[box]
    k = np.sqrt(((u - ou) * (1.0 / rx)) ** 2 + ((v - ov) * (1.0 / ry)) ** 2)
    shade = 1.05 - 0.3 * k
    c.paint(box, (1.0 - k) * min(rx, ry), chw(colour) * shade, BACKGROUND)


def _camera(c: Canvas, s: Scene, rng: np.random.Generator) -> np.ndarray:
    h, w = c.h, c.w
    yy, xx = pixel_grid(h, w)
    m = float(min(h, w))
    gx = s.light_grad * math.cos(s.light_dir) / m
    gy = s.light_grad * math.sin(s.light_dir) / m
    light = (1.0 + (xx - w / 2) * gx + (yy - h / 2) * gy) * s.brightness
    img = c.img
    img *= light
    img *= chw(s.cast) * s.contrast
    img += 128.0 * (1.0 - s.contrast)
    if s.blur > 0.0:
        sigma = s.blur * m / 128.0
        for ch in range(3):
            img[ch] = cv2.GaussianBlur(
                img[ch], (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REPLICATE
            )
    img += normal_noise(rng, (3, h, w)) * np.float32(s.noise)
    img += 0.5
    out = np.clip(img, 0.0, 255.0).astype(np.uint8).transpose(1, 2, 0)
    return jpeg_roundtrip(out, s.jpeg) if s.jpeg else np.ascontiguousarray(out)


def draw_face(
    rng: np.random.Generator, t: SubjectTraits, s: Scene, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Render ``(image uint8 [H, W, 3] RGB, mask uint8 [H, W])`` of subject ``t`` in scene
    ``s``; ``rng`` supplies the textures and sensor noise (drawn in a fixed order)."""
    c = Canvas(s, t, height, width)
    _background(c, s, rng)
    _body(c, s, t)
    _back_hair(c, s, t)
    _neck(c, s, t)
    skin = _face(c, s, t, rng)
    _brows(c, s, t)
    _eyes(c, s, t)
    _nose(c, s, t, skin)
    _mouth(c, s, t)
    _fringe(c, s, t)
    _occluder(c, s)
    return _camera(c, s, rng), c.mask
