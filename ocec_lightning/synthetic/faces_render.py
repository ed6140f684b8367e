"""Numpy rasteriser behind the synthetic face-parsing scenes (see ``faces``).

``draw_face`` paints one scene back to front on a ``Canvas`` (face frames and region
painting: ``faces_canvas``), the facial features coming from ``faces_features``.
Painting order (later wins in the mask): background + clutter (0), shoulders (0), back
hair (10), neck (0: skin-coloured but unlabelled, as in LaPa), face skin (1), brows (2/3), eyes
(4/5), nose (6), lips (7/9) and open mouth (8), fringe (10), rare occluder (0). Camera
effects (lighting gradient, colour cast, contrast, blur, noise, JPEG) touch the image
only. The image is rendered at 1x: the coverage ramp already antialiases every edge, and
a 2x supersample would quadruple the cost.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ocec_lightning.synthetic.faces_canvas import Canvas, smooth_noise
from ocec_lightning.synthetic.faces_features import (
    draw_brows,
    draw_eyes,
    draw_fringe,
    draw_mouth,
    draw_nose,
    hair_colour,
)
from ocec_lightning.synthetic.faces_scene import (
    BACKGROUND,
    BALD,
    HAIR,
    LONG,
    SKIN,
    Scene,
    SubjectTraits,
)
from ocec_lightning.synthetic.raster import chw, jpeg_roundtrip, normal_noise, pixel_grid


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
    c.paint(box, inside, hair_colour(c, box, t, s, True), HAIR)


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
    draw_brows(c, s, t)
    draw_eyes(c, s, t)
    draw_nose(c, s, t, skin)
    draw_mouth(c, s, t)
    draw_fringe(c, s, t)
    _occluder(c, s)
    return _camera(c, s, rng), c.mask
