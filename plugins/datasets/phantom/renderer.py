"""Phantom chest radiographs whose visible anatomy encodes a study's findings.

:func:`render_study` draws a PA and a lateral view (grayscale ``uint8``) from MeSH-style tags
(:mod:`rrgbench_plugins.datasets.phantom.findings`) and an integer seed. Everything is vectorised numpy over one pixel grid;
a 256x256 pair takes a few milliseconds.

Conventions. PA images are displayed as if facing the patient: the patient's *right* is on the image
*left*. Body coordinates ``U`` (left-right) and ``V`` (top-bottom, down positive) run over about
``[-1, 1]``; a per-study similarity transform (scale, rotation, shift) maps pixels to body coordinates, so
anatomy never needs resampling. Density ``D`` (white = high) is built from soft tissue minus lung air plus
bones, devices and findings, then exposure (gain, gamma) and noise are applied.

What each finding looks like (PA / lateral):

* cardiomegaly: heart width / inner thoracic width (CTR) > 0.5 (0.52 borderline .. 0.66 severe); normal 0.40-0.47.
* effusion: fluid fills the named costophrenic angle with a meniscus rising laterally / posteriorly.
* pneumothorax: visceral pleural line, no lung markings and darker air lateral and apical to it.
* opacity / consolidation: patchy (or confluent) density in the named side and zone.
* nodule / mass / granuloma: round densities; granulomas small and calcified (very bright).
* atelectasis: a linear band; scarring: thin irregular strands (apex by default).
* scoliosis: a curved spine, with trachea and mediastinum following; kyphosis on the lateral view.
* devices: catheter lines, pacemaker generator + leads, sternal wires, clips, tubes, stents, valves.
* hyper-/hypo-inflation, elevated or flattened diaphragm, tortuous aorta, hiatal hernia and others.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from .findings import Finding, parse_mesh

__all__ = ["RENDERER_VERSION", "Plan", "make_plan", "render_study", "study_seed"]

RENDERER_VERSION = "6"
_F = np.float32


def study_seed(study_id: str, seed: int = 0) -> int:
    """A stable per-study seed from a study id and a dataset seed."""
    return (zlib.crc32(study_id.encode("utf-8")) ^ (seed * 0x9E3779B1)) & 0x7FFFFFFF


# ------------------------------------------------------------------------------------------- plan


@dataclass
class Plan:
    """Per-study geometry and the findings to draw, all decided up front from the seed."""

    findings: list[Finding]
    seed: int
    scale: float = 1.0
    rotation: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)
    gain: float = 1.0
    gamma: float = 1.0
    noise: float = 0.015
    ctr: float = 0.44
    lung_halfwidth: float = 0.34
    lung_base: dict[str, float] = field(default_factory=lambda: {"right": 0.46, "left": 0.50})
    dome: dict[str, float] = field(default_factory=lambda: {"right": 0.16, "left": 0.15})
    air: float = 0.40
    markings_gain: float = 1.0
    spine_amp: float = 0.0
    kyphosis: float = 0.03
    med_shift: float = 0.0
    med_width: float = 0.11
    knob: float = 0.075
    bone: float = 1.0
    ap_depth: float = 1.0

    def has(self, kind: str) -> bool:
        return any(f.kind == kind for f in self.findings)

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]


def _sides(finding: Finding, rng: np.random.Generator, default: str | None = None) -> list[str]:
    side = finding.side or default or ("right" if rng.random() < 0.5 else "left")
    return ["right", "left"] if side == "bilateral" else [side]


def make_plan(tags: list[str] | tuple[str, ...], seed: int) -> Plan:
    """Decide geometry, exposure and finding parameters for one study."""
    rng = np.random.default_rng(seed)
    findings = parse_mesh(tags)
    p = Plan(findings=findings, seed=seed)
    p.scale = float(rng.uniform(0.88, 1.0))
    p.rotation = float(rng.normal(0, 0.03))
    p.shift = (float(rng.normal(0, 0.02)), float(rng.normal(0, 0.02)))
    p.gain = float(rng.uniform(0.9, 1.12))
    p.gamma = float(rng.uniform(0.85, 1.15))
    p.noise = float(rng.uniform(0.008, 0.022))
    p.ctr = float(rng.uniform(0.40, 0.47))
    p.lung_halfwidth = float(rng.uniform(0.34, 0.375))
    base = float(rng.uniform(0.45, 0.53))
    p.lung_base = {"right": base - 0.04, "left": base}
    p.air = float(rng.uniform(0.37, 0.43))
    p.ap_depth = float(rng.uniform(0.92, 1.04))
    for f in findings:
        k, sev = f.kind, f.severity
        if k == "cardiomegaly":
            p.ctr = max(p.ctr, (0.52, 0.56, 0.60, 0.66)[sev] + float(rng.uniform(-0.01, 0.01)))
        elif k == "hyperinflation":
            for s in p.lung_base:
                p.lung_base[s] += 0.07 + 0.02 * sev
                p.dome[s] = 0.05
            p.air *= 1.12
            p.lung_halfwidth += 0.02
            p.markings_gain *= 0.7
            p.ap_depth *= 1.12
        elif k == "hypoinflation":
            for s in p.lung_base:
                p.lung_base[s] -= 0.08 + 0.03 * sev
                p.dome[s] = 0.19
            p.markings_gain *= 1.3
        elif k == "diaphragm_elevated":
            for s in _sides(f, rng):
                p.lung_base[s] -= 0.16
                p.dome[s] = 0.2
        elif k == "diaphragm_flat":
            for s in p.dome:
                p.dome[s] = 0.04
        elif k == "scoliosis":
            direction = 1.0 if "right" in f.mods else -1.0 if "left" in f.mods else rng.choice([-1.0, 1.0])
            p.spine_amp = float(direction * (0.07, 0.07, 0.10, 0.15)[sev])
        elif k == "kyphosis":
            p.kyphosis = 0.08 + 0.03 * sev
        elif k == "markings":
            p.markings_gain *= 1.9
        elif k == "congestion":
            p.markings_gain *= 2.1
        elif k == "mediastinum_wide":
            p.med_width += 0.03 + 0.015 * sev
        elif k == "aorta_tortuous":
            p.knob = 0.10
        elif k == "shift":
            side = f.side if f.side in ("left", "right") else "left"
            p.med_shift = 0.06 if side == "left" else -0.06
        elif k == "osteopenia":
            p.bone = 0.55
        elif k == "poor_quality":
            p.rotation = float(rng.choice([-1, 1]) * rng.uniform(0.08, 0.14))
            p.noise = float(rng.uniform(0.03, 0.045))
            p.gamma = float(rng.choice([0.65, 1.45]))
    if not p.has("cardiomegaly"):
        p.ctr = min(p.ctr, 0.48)
    return p


# ----------------------------------------------------------------------------------------- helpers


def _soft(d: np.ndarray, w: float = 0.012) -> np.ndarray:
    """Inside mask (1 where d < 0) with a linear edge of width ``w``."""
    out = 0.5 - d * _F(1.0 / w)
    np.maximum(out, 0.0, out=out)
    return np.minimum(out, 1.0, out=out).astype(_F, copy=False)


def _ellipse(U: np.ndarray, V: np.ndarray, cx: float, cy: float, a: float, b: float) -> np.ndarray:
    """Approximate signed distance to an ellipse (negative inside)."""
    return (np.sqrt(((U - cx) / a) ** 2 + ((V - cy) / b) ** 2) - 1.0) * min(a, b)


def _polyline(U: np.ndarray, V: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Distance from every pixel to a polyline given as ``[n, 2]`` points (U, V)."""
    a, b = pts[:-1], pts[1:]
    lo = pts.min(0) - 0.08
    hi = pts.max(0) + 0.08
    box = (U >= lo[0]) & (U <= hi[0]) & (V >= lo[1]) & (V <= hi[1])
    out = np.full(U.shape, 9.0, dtype=_F)
    if not box.any():
        return out
    u, v = U[box][:, None], V[box][:, None]
    ab = b - a
    t = ((u - a[:, 0]) * ab[:, 0] + (v - a[:, 1]) * ab[:, 1]) / np.maximum((ab ** 2).sum(1), 1e-9)
    t = np.clip(t, 0.0, 1.0)
    du = u - (a[:, 0] + t * ab[:, 0])
    dv = v - (a[:, 1] + t * ab[:, 1])
    out[box] = np.sqrt(du * du + dv * dv).min(1)
    return out


def _bezier(*ctrl: tuple[float, float], n: int = 24) -> np.ndarray:
    """Points on a Bezier curve through control points (de Casteljau, vectorised over t)."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    pts = [np.asarray(c, dtype=float) for c in ctrl]
    while len(pts) > 1:
        pts = [(1 - t) * pts[i] + t * pts[i + 1] for i in range(len(pts) - 1)]
    return pts[0]


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Band-limited noise in about [-1, 1]: random values on a coarse grid, bilinearly upsampled."""
    coarse = rng.standard_normal((cells + 1, cells + 1), dtype=_F)
    return (_interp_matrix(shape[0], cells) @ coarse @ _interp_matrix(shape[1], cells).T) / _F(1.5)


def _interp_matrix(n: int, cells: int) -> np.ndarray:
    """``[n, cells + 1]`` weights of linear interpolation from a coarse grid to ``n`` samples."""
    x = np.linspace(0, cells, n, dtype=_F)
    x0 = np.minimum(x.astype(int), cells - 1)
    w = np.zeros((n, cells + 1), dtype=_F)
    w[np.arange(n), x0] = 1 - (x - x0)
    w[np.arange(n), x0 + 1] = x - x0
    return w


def _grid(p: Plan, size: int) -> tuple[np.ndarray, np.ndarray]:
    c = (np.arange(size, dtype=_F) + 0.5) / size * 2 - 1
    u, v = np.meshgrid(c, c)
    u = u - p.shift[0]
    v = v - p.shift[1]
    cos, sin = np.cos(p.rotation), np.sin(p.rotation)
    return ((cos * u + sin * v) / p.scale).astype(_F), ((-sin * u + cos * v) / p.scale).astype(_F)


def _finish(D: np.ndarray, p: Plan, view: int) -> np.ndarray:
    """Exposure and noise. The noise has its own generator, so a finding changes only its own pixels."""
    rng = np.random.default_rng([p.seed, 10 + view])
    img = np.clip(D * p.gain, 0.0, 1.0) ** p.gamma
    img = img + rng.standard_normal(D.shape, dtype=_F) * _F(p.noise)
    return (np.clip(img, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


_ZONE_T = {"apex": 0.08, "upper": 0.28, "middle": 0.55, "hilum": 0.5, "lower": 0.84}


# --------------------------------------------------------------------------------------------- PA


class _PA:
    """Builds the PA view; one instance per render."""

    def __init__(self, p: Plan, size: int, rng: np.random.Generator) -> None:
        self.p, self.rng, self.size = p, rng, size
        self.U, self.V = _grid(p, size)
        self.Va = -0.74

    # geometry of one hemithorax ------------------------------------------------------------------
    def sgn(self, side: str) -> float:
        return -1.0 if side == "right" else 1.0

    def center(self, side: str) -> float:
        return self.sgn(side) * (0.035 + self.p.lung_halfwidth)

    def local(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        """Lateral coordinate (positive towards the chest wall) and apex-to-base fraction t."""
        ul = (self.U - self.center(side)) * self.sgn(side)
        t = np.clip((self.V - self.Va) / (self.p.lung_base[side] - self.Va), 0.0, 1.3)
        return ul, t

    def lung_sdf(self, side: str, shrink: float = 0.0, drop: float = 0.0) -> np.ndarray:
        p = self.p
        ul, t = self.local(side)
        va = self.Va + drop
        tt = np.clip((self.V - va) / (p.lung_base[side] - va), 0.0, 1.3)
        wl = p.lung_halfwidth * (1.0 - shrink * (1.0 - 0.6 * np.clip(tt, 0, 1)))  # apical-lateral collapse
        g_lat = ul - wl * np.sqrt(tt)
        g_med = -ul - 0.27 * np.sqrt(tt) - shrink * 0.05  # medially the collapsed lung stays at the hilum
        g_top = va - self.V
        w = p.lung_halfwidth
        dome = p.lung_base[side] - p.dome[side] * np.clip(1 - ((ul + 0.05) / (w + 0.05)) ** 2, 0, 1)
        g_bot = self.V - dome
        return np.maximum(np.maximum(g_lat, g_med), np.maximum(g_top, g_bot))

    def at(self, side: str, zone: str | None, lateral: float = 0.0) -> tuple[float, float]:
        """Body coordinates of a zone's centre; ``lateral`` in lung half-widths (negative = medial)."""
        t = _ZONE_T.get(zone or "lower", 0.84)
        if zone == "hilum":
            lateral = min(lateral, -0.55)
        v = self.Va + t * (self.p.lung_base[side] - self.Va)
        w = self.p.lung_halfwidth * np.sqrt(t)
        return self.center(side) + self.sgn(side) * lateral * w, v

    # drawing --------------------------------------------------------------------------------------
    def render(self) -> tuple[np.ndarray, dict]:
        p, U, V, rng = self.p, self.U, self.V, self.rng
        shape = U.shape
        spine_x = p.spine_amp * np.sin(np.pi * np.clip((V + 0.9) / 1.6, 0, 1)) + p.med_shift
        mid_x = 0.5 * spine_x + p.med_shift * 0.5

        # body and soft tissue
        body = _soft((np.abs(U / 0.92) ** 4 + np.abs((V - 0.12) / 1.22) ** 4) ** 0.25 - 1.0, 0.02)
        neck = _soft(np.abs(U - mid_x * 0.5) - 0.26, 0.02) * _soft(V + 0.55, 0.05)
        shoulders = np.maximum(_soft(_ellipse(U, V, -0.72, -0.86, 0.32, 0.2), 0.03),
                               _soft(_ellipse(U, V, 0.72, -0.86, 0.32, 0.2), 0.03))
        body = np.maximum(body, np.maximum(neck, shoulders))
        D = body * (0.50 + 0.08 * np.clip(V, 0, 1)).astype(_F)

        # lungs
        lung = {s: _soft(self.lung_sdf(s)) for s in ("right", "left")}
        air = {s: lung[s].copy() for s in lung}

        # mediastinum, aortic knob, heart
        mw = p.med_width + 0.06 * np.clip((V + 0.1) / 0.4, 0, 1)
        med = _soft(np.abs(U - mid_x) - mw) * _soft(V - 0.35) * _soft(-0.95 - V, -1e-3 + 0.02)
        med = np.maximum(med, _soft(_ellipse(U, V, 0.12 + p.med_shift + (p.knob - 0.075) * 0.6, -0.33,
                                             p.knob, p.knob * 0.9)))
        thorax_w = 2 * (0.035 + 2 * p.lung_halfwidth)  # inner thoracic width, lateral wall to wall
        total = p.ctr * thorax_w
        a_left, a_right = 0.6 * total, 0.4 * total
        uh = 0.0 + p.med_shift
        vh = 0.5 * (p.lung_base["right"] + p.lung_base["left"]) - 0.22
        bh = 0.25 + 0.15 * (p.ctr - 0.45)
        a = np.where(U > uh, a_left, a_right)
        heart = _soft((np.sqrt(((U - uh) / a) ** 2 + ((V - vh) / bh) ** 2) - 1.0) * 0.25, 0.008)
        occl = np.maximum(med, heart)
        info = {"ctr": p.ctr, "heart_left": uh + a_left, "heart_right": uh - a_right,
                "thorax_halfwidth": thorax_w / 2}

        # lung markings: radial streaks from each hilum, fading outwards
        mark = np.zeros(shape, _F)
        breakup = np.clip(_smooth_noise(rng, shape, 12) + 0.8, 0, 1)  # vessels fade in and out
        for s in ("right", "left"):
            hx, hy = self.center(s) - self.sgn(s) * 0.2, -0.05
            r = np.sqrt((U - hx) ** 2 + (V - hy) ** 2)
            th = np.arctan2(V - hy, (U - hx) * self.sgn(s))
            for bins, cut, weight in ((240, 0.7, 0.2), (480, 0.9, 0.14)):
                ang = rng.standard_normal(bins).astype(_F)
                ang = (np.roll(ang, 1) + 2 * ang + np.roll(ang, -1)) / _F(2.45)  # soft-edged vessels
                idx = ((th + np.pi) / (2 * np.pi) * (bins - 1)).astype(int)
                streak = np.clip(ang[idx] - cut, 0, None)
                mark += air[s] * streak * np.exp(-r / 0.45) * np.clip(r / 0.3, 0, 1) ** 2 * weight * breakup
            mark += 0.07 * air[s] * _soft(_ellipse(U, V, hx, hy, 0.06, 0.1), 0.05)  # hilar vessels
        mark *= p.markings_gain
        tex = _smooth_noise(rng, shape, 20) * 0.018

        extra = np.zeros(shape, _F)   # additive density (bones, devices, calcifications)
        fill = {s: np.zeros(shape, _F) for s in lung}  # fraction of lung air replaced by fluid/tissue
        ptx = {s: np.zeros(shape, _F) for s in lung}

        self._bones(extra, spine_x, rng, body)
        for f in p.findings:
            self._finding(f, extra, fill, ptx, air, mark, rng, info)

        for s in lung:
            a_s = air[s] * (1 - occl) * (1 - np.clip(fill[s], 0, 1))
            D -= p.air * a_s * (1 + 0.25 * ptx[s])  # the pleural space is hyperlucent
            mark *= 1 - ptx[s] * lung[s]
        D += mark * (1 - occl) + tex * body + extra
        # trachea and main bronchi (air)
        tx = 0.7 * spine_x + p.med_shift
        trachea = _soft(np.abs(U - tx) - 0.032) * _soft(V + 0.28, 0.03) * _soft(-0.98 - V, 0.02)
        D -= 0.12 * trachea
        # gastric bubble under the left hemidiaphragm
        if not p.has("pneumoperitoneum"):
            gv = p.lung_base["left"] + 0.08
            D -= 0.12 * _soft(_ellipse(U, V, 0.36, gv, 0.08, 0.05), 0.02)
        D = np.where(body > 0, D, 0.03 + 0.02 * D)
        return _finish(D, p, 0), info

    def _bones(self, extra: np.ndarray, spine_x: np.ndarray, rng: np.random.Generator,
               body: np.ndarray) -> None:
        p, U, V = self.p, self.U, self.V
        b = p.bone
        # spine: column with darker disc spaces and pedicles
        col = _soft(np.abs(U - spine_x) - 0.062, 0.01) * _soft(-0.98 - V, 0.02)
        frac = np.mod((V + 1.0) / 0.125, 1.0)
        disc = (frac < 0.16).astype(_F)
        extra += b * col * (0.085 - 0.045 * disc)
        extra += b * 0.035 * col * np.exp(-(((np.abs(U - spine_x) - 0.055) / 0.008) ** 2))  # cortices
        for dx in (-0.042, 0.042):
            ped = _soft(np.abs(frac - 0.5) * 0.125 - 0.022, 0.006) * _soft(np.abs(U - spine_x - dx) - 0.012, 0.006)
            extra += b * 0.05 * ped * col
        # posterior ribs, each side
        wall = 0.035 + 2 * p.lung_halfwidth + 0.03  # lateral chest wall
        fractured = {}
        for f in p.of("fracture_rib"):
            for s in _sides(f, rng):
                fractured[s] = (int(rng.integers(3, 8)), float(rng.uniform(0.45, 0.85)))
        for s in ("right", "left"):
            sg = self.sgn(s)
            bend = spine_x * np.clip(1 - np.abs(U) / 0.6, 0, 1)  # ribs follow the spine medially only
            au = ((U - bend) * sg - 0.07) / 0.72
            inside = (au > 0) & (au < (wall - 0.07) / 0.72 + 0.05)
            # rib k runs along V = -0.74 + 0.125 k + c(au): the nearest rib is one rounding away
            q = (V + 0.74 + 0.10 * au - 0.36 * au * au) / 0.125
            k = np.clip(np.rint(q), 0, 9)
            dv = (q - k) * 0.125
            if s in fractured:
                kf, af = fractured[s]
                hit = (k == kf) & (au > af)
                dv = np.where(hit, dv - 0.015, dv)
                gap = np.where(k == kf, np.clip(np.abs(au - af) / 0.025, 0, 1), 1.0)
                vr = -0.74 + 0.125 * kf - 0.10 * af + 0.36 * af * af
                extra += b * 0.08 * _soft(np.sqrt(((au - af) * 0.72) ** 2 + (V - vr) ** 2) - 0.025, 0.01)
            else:
                gap = 1.0
            x2 = (dv / 0.02) ** 2
            extra += b * 0.065 * np.exp(-x2 * x2) * inside * gap
        # clavicles and humeral heads
        for s in ("right", "left"):
            sg = self.sgn(s)
            pts = np.array([[sg * 0.09, -0.70], [sg * 0.35, -0.76], [sg * 0.64, -0.86]])
            d = _polyline(U, V, pts)
            clav = _soft(d - 0.026, 0.01)
            if any(s in _sides(f, rng, "right") for f in p.of("fracture_clavicle")):
                clav *= np.clip(np.abs(U - sg * 0.38) / 0.02, 0, 1)
            extra += b * 0.13 * clav
            extra += b * 0.10 * _soft(_ellipse(U, V, sg * 0.86, -0.80, 0.12, 0.12), 0.01) * body

    def _finding(self, f: Finding, extra: np.ndarray, fill: dict, ptx: dict, air: dict, mark: np.ndarray,
                 rng: np.random.Generator, info: dict) -> None:
        p, U, V = self.p, self.U, self.V
        k, sev = f.kind, max(f.severity, 1)
        if k == "effusion":
            for s in _sides(f, rng, "bilateral"):
                ul, _ = self.local(s)
                level = p.lung_base[s] - (0.09, 0.09, 0.15, 0.27)[sev] - 0.02 * float(rng.random())
                w = p.lung_halfwidth
                menis = level - 0.11 * np.clip((ul + w) / (2 * w), 0, 1) ** 2
                fill[s] += _soft(menis - V, 0.015) * 1.0
                info.setdefault("effusion", []).append(s)
        elif k == "pneumothorax":
            for s in _sides(f, rng, "right"):
                shrink = (0.22, 0.22, 0.32, 0.45)[sev]
                g_c = self.lung_sdf(s, shrink=shrink, drop=shrink * 0.5)
                space = (1 - _soft(g_c, 0.008)) * air[s]
                ptx[s] += space
                line = np.exp(-((g_c / 0.008) ** 2)) * air[s]
                extra += 0.22 * line
                info.setdefault("pneumothorax", []).append(s)
        elif k in ("opacity", "consolidation"):
            for s in _sides(f, rng):
                zone = f.zone or ("lower" if rng.random() < 0.6 else "middle")
                cx, cy = self.at(s, zone, float(rng.uniform(-0.3 if zone in ("apex", "upper") else 0.0, 0.35)))
                size = (0.12, 0.12, 0.16, 0.22)[sev]
                blob = _soft(_ellipse(U, V, cx, cy, size * 1.1, size * 0.9), 0.06)
                patch = np.clip(_smooth_noise(rng, U.shape, 24) * 1.2 + (0.9 if k == "consolidation" else 0.45), 0, 1)
                fill[s] += blob * patch * (1.0 if k == "consolidation" else 0.85)
        elif k == "edema" or k == "congestion":
            for s in ("right", "left"):
                hx = self.center(s) - self.sgn(s) * 0.2
                r2 = (U - hx) ** 2 + (V + 0.02) ** 2
                strength = (0.35, 0.35, 0.5, 0.65)[sev] if k == "edema" else 0.18
                fill[s] += strength * np.exp(-r2 / 0.09) * air[s]
                extra += 0.08 * _soft(_ellipse(U, V, hx, -0.02, 0.07, 0.1), 0.03) * (k == "congestion")
        elif k == "interstitial":
            net = np.abs(_smooth_noise(rng, U.shape, 64))
            reticular = np.clip(1.0 - net / 0.12, 0, 1)
            for s in _sides(f, rng, "bilateral"):
                _, t = self.local(s)
                diffuse = "diffuse" in f.mods or f.zone not in (None, "lower")
                zone_w = 1.0 if diffuse else np.clip((t - 0.35) / 0.3, 0, 1)
                fill[s] += (0.3 + 0.06 * sev) * reticular * zone_w * air[s]
        elif k == "hilar_enlarged" or k == "calcified_nodes":
            for s in _sides(f, rng, "bilateral"):
                hx = self.center(s) - self.sgn(s) * 0.22
                if k == "hilar_enlarged":
                    fill[s] += 0.9 * _soft(_ellipse(U, V, hx, -0.04, 0.07 + 0.01 * sev, 0.09), 0.02)
                else:
                    for _ in range(int(rng.integers(2, 4))):
                        cx, cy = hx + rng.normal(0, 0.03), -0.04 + rng.normal(0, 0.04)
                        extra += 0.3 * _soft(_ellipse(U, V, cx, cy, 0.022, 0.018), 0.008)
        elif k in ("nodule", "mass", "granuloma", "granulomatous"):
            count = int(rng.integers(3, 7)) if k == "granulomatous" or "multiple" in f.mods else 1
            for s in _sides(f, rng):
                for _ in range(count):
                    zone = f.zone or str(rng.choice(["upper", "middle", "lower"]))
                    # lower and middle zones: keep lateral of the heart border so the lesion stays visible
                    lo = -0.6 if zone in ("apex", "upper") else -0.05
                    cx, cy = self.at(s, zone, float(rng.uniform(lo, 0.65)))
                    cy += float(rng.uniform(-0.05, 0.05))
                    if k == "mass":
                        r = 0.08 + 0.015 * sev
                        fill[s] += _soft(_ellipse(U, V, cx, cy, r, r * 0.9) +
                                         0.01 * np.sin(6 * np.arctan2(V - cy, U - cx)), 0.015)
                    elif k == "nodule":
                        r = 0.03 + 0.006 * sev
                        fill[s] += _soft(_ellipse(U, V, cx, cy, r, r), 0.012)
                        extra += 0.04 * _soft(_ellipse(U, V, cx, cy, r, r), 0.012)
                    else:
                        r = float(rng.uniform(0.014, 0.022))
                        extra += 0.38 * _soft(_ellipse(U, V, cx, cy, r, r), 0.006)
        elif k == "aortic_calcification":
            kx = 0.12 + p.med_shift + (p.knob - 0.075) * 0.6
            rr = np.sqrt((U - kx) ** 2 + (V + 0.33) ** 2)
            ang = np.arctan2(V + 0.33, U - kx)
            arc = np.exp(-(((rr - p.knob * 0.92) / 0.008) ** 2)) * ((ang < 0.6) & (ang > -2.2))
            extra += 0.3 * arc
        elif k in ("atelectasis", "scarring"):
            for s in _sides(f, rng):
                n = int(rng.integers(2, 4)) if k == "scarring" else 1
                zone = f.zone or ("apex" if k == "scarring" else "lower")
                for _ in range(n):
                    cx, cy = self.at(s, zone, float(rng.uniform(-0.2, 0.35)))
                    if zone == "lower":
                        cy -= 0.05
                    ang = float(rng.uniform(-0.35, 0.35)) * self.sgn(s)
                    half = 0.13 if k == "atelectasis" else float(rng.uniform(0.05, 0.09))
                    pts = np.array([[cx - half * np.cos(ang), cy - half * np.sin(ang)],
                                    [cx + half * np.cos(ang), cy + half * np.sin(ang)]])
                    thick = (0.014, 0.014, 0.02, 0.028)[sev] if k == "atelectasis" else 0.007
                    band = _soft(_polyline(U, V, pts) - thick, 0.008)
                    fill[s] += band * 0.95
                    extra += 0.03 * band
        elif k == "pleural_thickening":
            for s in _sides(f, rng, "bilateral"):
                g = self.lung_sdf(s)
                rim = (g > -0.03 - 0.008 * sev) * air[s]
                _, t = self.local(s)
                zone_w = np.clip((0.35 - t) / 0.15, 0, 1) if f.zone in (None, "apex", "upper") else 1.0
                fill[s] += rim * zone_w
        elif k == "hiatal_hernia":
            vh = 0.5 * (p.lung_base["right"] + p.lung_base["left"]) - 0.12
            ball = _soft(_ellipse(U, V, 0.03, vh, 0.11, 0.09), 0.01)
            extra += 0.06 * ball * (V > vh) - 0.16 * ball * (V <= vh)
        elif k == "lucency":
            for s in _sides(f, rng):
                cx, cy = self.at(s, f.zone or "upper", float(rng.uniform(-0.3, 0.3)))
                d = _ellipse(U, V, cx, cy, 0.06, 0.06)
                mark *= 1 - _soft(d, 0.01)
                extra += -0.06 * _soft(d, 0.01) + 0.07 * np.exp(-((d / 0.006) ** 2))
        elif k == "pneumoperitoneum":
            vd = p.lung_base["right"]
            crescent = _soft(_ellipse(U, V, -0.35, vd - 0.02, 0.3, 0.1), 0.01) * (V > vd - 0.02)
            extra -= 0.35 * crescent * (1 - _soft(_ellipse(U, V, -0.35, vd + 0.03, 0.3, 0.1), 0.01))
        elif k == "subcutaneous_emphysema":
            for s in _sides(f, rng, "bilateral"):
                ul, _ = self.local(s)
                wall = (ul > p.lung_halfwidth + 0.02) & (ul < p.lung_halfwidth + 0.2)
                streak = np.clip(np.abs(_smooth_noise(rng, U.shape, 40)) < 0.15, 0, 1)
                extra -= 0.25 * streak * wall * (V > -0.6) * (V < 0.5)
        elif k == "breast_implants":
            for s in ("right", "left"):
                extra += 0.1 * _soft(_ellipse(U, V, self.center(s) * 1.05, 0.35, 0.24, 0.18), 0.01)
        elif k in _DEVICE_KINDS:
            self._device(f, extra, rng)

    def _device(self, f: Finding, extra: np.ndarray, rng: np.random.Generator) -> None:
        p, U, V = self.p, self.U, self.V
        k = f.kind
        metal = 0.55
        vh = 0.5 * (p.lung_base["right"] + p.lung_base["left"])
        if k == "catheter":
            for s in _sides(f, rng, "right"):
                sg = self.sgn(s)
                pts = _bezier((sg * 0.62, -0.84), (sg * 0.22, -0.68), (sg * 0.05, -0.45), (-0.04, -0.12))
                extra += 0.4 * _soft(_polyline(U, V, pts) - 0.008, 0.006)
        elif k == "pacemaker":
            for s in _sides(f, rng, "left"):
                sg = self.sgn(s)
                bx, by = sg * 0.5, -0.62
                box = np.maximum(np.abs(U - bx) - 0.07, np.abs(V - by) - 0.045)
                extra += 0.7 * _soft(box, 0.008)
                lead = _bezier((bx, by), (sg * 0.2, -0.72), (-0.06, -0.4), (-0.05, 0.0), (0.16, vh - 0.12))
                extra += 0.45 * _soft(_polyline(U, V, lead) - 0.007, 0.005)
        elif k == "sternal_wires":
            for j in range(int(rng.integers(4, 7))):
                cy = -0.45 + j * 0.12
                d = _ellipse(U, V, 0.0 + p.med_shift, cy, 0.028, 0.016)
                extra += metal * np.exp(-((d / 0.006) ** 2))
            if "clips" not in f.mods:
                self._clips(extra, rng, [(0.22, -0.05), (-0.12, 0.05)], 3)
        elif k == "clips":
            spots = []
            if "abdomen" in f.mods:
                spots.append((-0.35 if f.side != "left" else 0.35, p.lung_base["right"] + 0.18))
            elif f.zone or f.side:
                s = f.side if f.side in ("left", "right") else "right"
                spots.append(self.at(s, f.zone or "hilum", -0.4))
            else:
                spots.append((0.2, -0.2))
            self._clips(extra, rng, spots, int(rng.integers(3, 6)))
        elif k == "tube":
            if "abdomen" in f.mods:
                pts = _bezier((0.0, -1.05), (0.02, -0.2), (0.05, vh + 0.1), (0.3, vh + 0.18))
            elif f.side in ("left", "right") or "thorax" in f.mods:
                sg = self.sgn(f.side or "right")
                pts = _bezier((sg * 0.8, vh + 0.05), (sg * 0.62, -0.2), (sg * 0.35, -0.6))
            else:
                pts = np.array([[0.0, -1.05], [0.0 + p.med_shift * 0.5, -0.42]])
            d = _polyline(U, V, pts)
            extra += 0.35 * (np.exp(-(((d - 0.016) / 0.005) ** 2)))
        elif k == "stent":
            cx, cy = (0.12, vh - 0.3) if "coronary vessels" in f.mods or not f.mods else (-0.2, vh + 0.2)
            if "aorta" in f.mods:
                cx, cy = 0.14, -0.1
            rect = np.maximum(np.abs(U - cx) - 0.025, np.abs(V - cy) - 0.07)
            hatch = (np.abs(np.sin((U - cx + V - cy) * 160)) > 0.6) | (np.abs(np.sin((U - cx - V + cy) * 160)) > 0.6)
            extra += 0.5 * _soft(rect, 0.005) * hatch
        elif k == "valve":
            d = _ellipse(U, V, 0.03, vh - 0.3, 0.045, 0.03)
            extra += metal * np.exp(-((d / 0.007) ** 2))
        elif k == "spinal_fusion":
            sx = p.spine_amp * np.sin(np.pi * np.clip((V + 0.9) / 1.6, 0, 1)) + p.med_shift
            for dx in (-0.04, 0.04):
                extra += 0.6 * _soft(np.abs(U - sx - dx) - 0.008, 0.004) * (V > -0.2) * (V < 0.6)
        elif k == "foreign_body":
            s = f.side if f.side in ("left", "right") else str(rng.choice(["left", "right"]))
            cx, cy = self.at(s, f.zone or str(rng.choice(["upper", "middle", "lower"])), float(rng.uniform(-0.4, 0.6)))
            extra += 0.7 * _soft(_ellipse(U, V, cx, cy, 0.02, 0.014), 0.005)

    def _clips(self, extra: np.ndarray, rng: np.random.Generator, spots: list, n: int) -> None:
        U, V = self.U, self.V
        for cx, cy in spots:
            for _ in range(n):
                x, y = cx + rng.normal(0, 0.06), cy + rng.normal(0, 0.06)
                a = rng.uniform(0, np.pi)
                pts = np.array([[x - 0.022 * np.cos(a), y - 0.022 * np.sin(a)],
                                [x + 0.022 * np.cos(a), y + 0.022 * np.sin(a)]])
                extra += 0.6 * _soft(_polyline(U, V, pts) - 0.006, 0.004)


_DEVICE_KINDS = {"catheter", "pacemaker", "sternal_wires", "clips", "tube", "stent", "valve", "spinal_fusion",
                 "foreign_body"}


# ---------------------------------------------------------------------------------------- lateral


def _render_lateral(p: Plan, size: int, rng: np.random.Generator) -> np.ndarray:
    """Lateral view: anterior on the image left, spine on the right."""
    U, V = _grid(p, size)
    shape = U.shape
    depth = 0.74 * p.ap_depth
    body = _soft((np.abs((U - 0.04) / depth) ** 3 + np.abs((V - 0.12) / 1.25) ** 3) ** (1 / 3) - 1.0, 0.02)
    neck = _soft(np.abs(U - 0.12) - 0.3, 0.02) * _soft(V + 0.6, 0.05)
    body = np.maximum(body, neck)
    D = body * (0.52 + 0.08 * np.clip(V, 0, 1))

    base = 0.5 * (p.lung_base["right"] + p.lung_base["left"]) + 0.06
    dome_h = 0.5 * (p.dome["right"] + p.dome["left"]) * 1.3
    front, back = -0.56 * p.ap_depth + 0.04, 0.50
    mid, half = (front + back) / 2, (back - front) / 2
    ux = (U - mid) / half
    va = -0.76
    tt = np.clip((V - va) / (base - va), 0, 1.3)
    g_side = np.abs(ux) - np.sqrt(np.clip(tt * 1.6, 0, 1))
    dome = base + 0.1 * ux - dome_h * np.clip(1 - ux ** 2, 0, 1)
    g = np.maximum(np.maximum(g_side * half, va - V), V - dome)
    lung = _soft(g)
    fill = np.zeros(shape, np.float32)
    extra = np.zeros(shape, np.float32)

    # heart (anterior, lower), aortic arch, spine, sternum
    hw = 0.26 * (p.ctr / 0.45) ** 1.2
    hx, hy = front + hw * 0.95, base - 0.24
    heart = _soft(_ellipse(U, V, hx, hy, hw, 0.25), 0.01)
    rr = np.sqrt((U - 0.05) ** 2 + (V + 0.28) ** 2)
    arch = 0.6 * _soft(np.abs(rr - 0.15) - 0.03 - (p.knob - 0.075)) * (V < -0.26)
    desc = 0.6 * _soft(np.abs(U - 0.2) - 0.035) * (V > -0.3) * (V < base)
    occl = np.maximum(np.maximum(heart, arch), desc)
    spine_u = back + 0.12 + p.kyphosis * np.clip(1 - ((V + 0.1) / 0.9) ** 2, 0, 1)
    frac = np.mod((V + 1.0) / 0.125, 1.0)
    vert = _soft(np.abs(U - spine_u) - 0.075, 0.008) * (frac > 0.16)
    extra += p.bone * (0.14 * vert + 0.06 * _soft(np.abs(U - spine_u) - 0.075, 0.008) *
                       np.exp(-(((frac - 0.2) / 0.04) ** 2)))
    sternum = _soft(np.abs(U - (front - 0.06 + 0.1 * (V + 0.5) ** 2)) - 0.018, 0.006) * (V > -0.58) * (V < 0.3)
    extra += p.bone * 0.12 * sternum

    def zone_v(zone: str | None) -> float:
        return va + _ZONE_T.get(zone or "lower", 0.84) * (base - va)

    for f in p.findings:
        k, sev = f.kind, max(f.severity, 1)
        if k == "effusion":
            level = base + 0.08 - (0.07, 0.07, 0.13, 0.26)[sev] * (1.3 if f.side == "bilateral" else 1.0)
            menis = level - 0.12 * np.clip((U - mid) / half, 0, 1) ** 2
            fill += _soft(menis - V, 0.015) * (U > mid - 0.1)
        elif k in ("opacity", "consolidation"):
            zone = f.zone or "lower"
            cx = {"lower": 0.25, "middle": -0.2, "hilum": 0.0}.get(zone, 0.05)
            blob = _soft(_ellipse(U, V, cx, zone_v(zone), 0.16, 0.12), 0.05)
            patch = np.clip(_smooth_noise(rng, shape, 24) * 1.2 + 0.6, 0, 1)
            fill += blob * patch * 0.55
        elif k in ("nodule", "mass", "granuloma", "granulomatous"):
            count = int(rng.integers(2, 5)) if k == "granulomatous" else 1
            for _ in range(count):
                cx, cy = float(rng.uniform(-0.2, 0.35)), zone_v(f.zone) + float(rng.uniform(-0.08, 0.08))
                if k == "granuloma" or k == "granulomatous":
                    extra += 0.3 * _soft(_ellipse(U, V, cx, cy, 0.018, 0.018), 0.006)
                else:
                    r = 0.09 if k == "mass" else 0.032
                    fill += 0.8 * _soft(_ellipse(U, V, cx, cy, r, r), 0.012)
        elif k == "atelectasis" or k == "scarring":
            cy = zone_v(f.zone or ("lower" if k == "atelectasis" else "apex"))
            pts = np.array([[-0.1, cy - 0.05], [0.3, cy + 0.03]])
            fill += 0.9 * _soft(_polyline(U, V, pts) - (0.015 if k == "atelectasis" else 0.007), 0.008)
        elif k in ("edema", "congestion", "interstitial", "markings"):
            r2 = U ** 2 + (V + 0.05) ** 2
            fill += (0.4 if k == "edema" else 0.15) * np.exp(-r2 / 0.12)
        elif k == "hiatal_hernia":
            ball = _soft(_ellipse(U, V, 0.22, base - 0.15, 0.1, 0.08), 0.01)
            extra += 0.05 * ball * (V > base - 0.15) - 0.15 * ball * (V <= base - 0.15)
        elif k == "spine_degenerative":
            for _ in range(int(rng.integers(3, 6))):
                vy = -0.6 + float(rng.integers(0, 10)) * 0.125 + 0.02
                su = back + 0.12 + p.kyphosis * max(0.0, 1 - ((vy + 0.1) / 0.9) ** 2) - 0.085
                tri = _soft(_ellipse(U, V, su, vy, 0.02, 0.012), 0.005)
                extra += 0.2 * tri
        elif k == "fracture_spine":
            vy = -0.1 + 0.125 * float(rng.integers(0, 4))
            extra += 0.1 * _soft(np.abs(U - spine_u) - 0.075, 0.008) * _soft(np.abs(V - vy) - 0.03, 0.01)
        elif k == "pacemaker":
            box = np.maximum(np.abs(U - (front + 0.02)) - 0.03, np.abs(V + 0.6) - 0.07)
            extra += 0.7 * _soft(box, 0.008)
            lead = _bezier((front + 0.02, -0.6), (0.0, -0.5), (0.0, -0.1), (hx - 0.1, hy + 0.1))
            extra += 0.45 * _soft(_polyline(U, V, lead) - 0.007, 0.005)
        elif k == "catheter":
            pts = _bezier((0.2, -0.95), (0.05, -0.6), (0.0, -0.3), (-0.05, -0.1))
            extra += 0.4 * _soft(_polyline(U, V, pts) - 0.008, 0.006)
        elif k == "sternal_wires":
            for j in range(5):
                vy = -0.5 + j * 0.16
                sx = front - 0.06 + 0.1 * (vy + 0.5) ** 2
                extra += 0.55 * np.exp(-((_ellipse(U, V, sx, vy, 0.012, 0.025) / 0.006) ** 2))
        elif k in ("clips", "stent", "valve", "foreign_body", "tube"):
            cx, cy = (hx, hy - 0.1) if k in ("stent", "valve") else (float(rng.uniform(-0.3, 0.3)), float(rng.uniform(-0.4, 0.5)))
            for _ in range(3 if k == "clips" else 1):
                x, y = cx + rng.normal(0, 0.05), cy + rng.normal(0, 0.05)
                extra += 0.55 * _soft(_polyline(U, V, np.array([[x - 0.02, y], [x + 0.02, y + 0.01]])) - 0.006, 0.004)
        elif k == "spinal_fusion":
            extra += 0.6 * _soft(np.abs(U - spine_u + 0.05) - 0.01, 0.004) * (V > -0.2) * (V < 0.6)
        elif k == "lucency":
            d = _ellipse(U, V, 0.0, zone_v(f.zone or "upper"), 0.06, 0.06)
            extra += -0.06 * _soft(d, 0.01) + 0.06 * np.exp(-((d / 0.006) ** 2))
        elif k == "breast_implants":
            extra += 0.1 * _soft(_ellipse(U, V, front - 0.1, 0.25, 0.15, 0.2), 0.01)

    # markings and texture
    r = np.sqrt((U - 0.02) ** 2 + (V + 0.05) ** 2)
    th = np.arctan2(V + 0.05, U - 0.02)
    ang = rng.standard_normal(181).astype(np.float32)
    streak = np.clip(ang[((th + np.pi) / (2 * np.pi) * 180).astype(int)] - 0.4, 0, None)
    mark = lung * streak * np.exp(-r / 0.45) * 0.07 * p.markings_gain
    tex = _smooth_noise(rng, shape, 20) * 0.018
    air = lung * (1 - occl) * (1 - np.clip(fill, 0, 1))
    D = D - p.air * 0.9 * air + mark * (1 - occl) + tex * body + extra
    trachea = _soft(_polyline(U, V, np.array([[0.06, -1.05], [0.1, -0.3]])) - 0.03) * body
    D -= 0.1 * trachea
    D = np.where(body > 0, D, 0.03 + 0.02 * D)
    return _finish(D.astype(np.float32), p, 1)


# ------------------------------------------------------------------------------------------ public


def render_study(tags: list[str] | tuple[str, ...], seed: int, size: int = 256
                 ) -> tuple[list[np.ndarray], dict]:
    """Render a study's PA and lateral views from MeSH tags.

    Returns ``([pa, lateral], info)``: ``uint8`` arrays ``[size, size]`` and facts about the drawing
    (``ctr``, heart borders, which sides have an effusion or pneumothorax) for tests and inspection.
    Deterministic in ``(tags, seed, size)``.
    """
    plan = make_plan(tags, seed)
    rng = np.random.default_rng([seed, 1])
    pa, info = _PA(plan, size, rng).render()
    lat = _render_lateral(plan, size, np.random.default_rng([seed, 2]))
    info["kinds"] = sorted({f.kind for f in plan.findings})
    return [pa, lat], info
