"""The facial features of a synthetic face scene, drawn in the surface frame ``(u, v)``.

Brows (2/3), eyes (4/5), nose (6), lips (7/9) with the open mouth (8) and the fringe
(10), in that painting order, each clipped by the face silhouette (``Canvas.face``) so
that under a strong yaw the far side slides out of view. Lash lines, creases, nostrils
and the line where the lips meet are shading only: they touch the image, not the mask.
``faces_render`` composites them between the face skin and the occluder.
"""

from __future__ import annotations

import math

import numpy as np

from ocec_lightning.synthetic.faces_canvas import Box, Canvas
from ocec_lightning.synthetic.faces_scene import (
    BALD,
    HAIR,
    INNER_MOUTH,
    LEFT_BROW,
    LEFT_EYE,
    LOWER_LIP,
    NOSE,
    RIGHT_BROW,
    RIGHT_EYE,
    UPPER_LIP,
    Scene,
    SubjectTraits,
)
from ocec_lightning.synthetic.raster import chw, lens_profile


def hair_colour(c: Canvas, box: Box, t: SubjectTraits, s: Scene, dense: bool) -> np.ndarray:
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


def draw_brows(c: Canvas, s: Scene, t: SubjectTraits) -> None:
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


def draw_eyes(c: Canvas, s: Scene, t: SubjectTraits) -> None:
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


def draw_nose(c: Canvas, s: Scene, t: SubjectTraits, skin: np.ndarray) -> None:
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


def draw_mouth(c: Canvas, s: Scene, t: SubjectTraits) -> None:
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


def draw_fringe(c: Canvas, s: Scene, t: SubjectTraits) -> None:
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
    c.paint(box, inside, hair_colour(c, box, t, s, False), HAIR)
