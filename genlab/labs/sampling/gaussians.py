"""The sampling lab's "cholesky" and "ancestral" modes: correlated Gaussians and mixtures.

Cholesky: the standard normal cloud is held, then sheared by x = sμ + ((1 − s)I + sL)z as s
goes from 0 to 1, the columns of the map drawn as arrows, until it fills N(μ, Σ).
Ancestral: over the mixture's components (1σ and 2σ contours, each named in its colour where
the text covers fewest samples, its weight π_k named on its bar), the first points choose
their component one by one (each appears at its mean), the rest follow, and after a beat every
point moves from its mean to x ~ N(μ_k, Σ_k).
"""

from __future__ import annotations

import numpy as np

from genlab.engine import gmm
from genlab.engine.sampling import ancestral_gmm, cholesky, cov_from
from genlab.labs.base import FrameGenerator
from genlab.labs.frame import (
    INK,
    MUTED,
    Arrows,
    Ellipses,
    Frame,
    Histogram,
    Labels,
    Layer,
    Panel,
    Points,
    Segments,
)
from genlab.labs.sampling.common import (
    HOLD_END,
    SERIES,
    arrivals,
    contours,
    minus,
    smooth,
)
from genlab.labs.sampling.params import Params

CH_MOVE = 48  # frames of the shear ...
CH_PACE = 1.6  # ... at this pace (about four seconds at FPS)
HOLD_START = 2.0  # seconds on z ~ N(0, I) before it moves
CH_GROUP = "‖Cov(x) − Σ‖"
ARROW_PX = 6.0  # the columns' lengths are the story: lengthen only one too short to see
# Ancestral: AN_SLOW points choose their component one by one, AN_GAP frames apart at
# AN_SLOW_PACE (1.25 s each at FPS, the first held HOLD_FIRST more, long enough to read how
# k is drawn); the rest over AN_FLOOD frames; a beat; then AN_MOVE frames to x.
AN_SLOW, AN_GAP, AN_FLOOD, AN_MOVE = 4, 10, 18, 30
AN_SLOW_PACE, AN_PACE = 2.5, 1.6
HOLD_FIRST = 1.5
ENOUGH = 20  # points drawn before their distance to π is plotted
HOLD_CHOSEN = 1.5  # seconds on "every point has its component", before they move
# Component k's palette colour: neither the exact weights' vermillion (their dashed marks sit
# on the bars) nor the orange next to it; blue, green, pink, olive, purple, cyan, brown, grey.
COMPONENT_COLOURS = np.array([0, 2, 4, 8, 12, 9, 6, 7])
# Each component's name is anchored just outside its 2σ contour (or further, on LABEL_RINGS σ,
# with a leader line), where its text, about
# LABEL_LIFT above the anchor and LABEL_HALF in half size (data units of the ±4.5 view at
# window sizes), covers the least of the mixture.
LABEL_RINGS = (2.2, 2.8, 3.4, 4.0)
LABEL_FURTHER = 1e-3  # a density cost per ring further out (about a sample under the text)
LABEL_LIFT = 0.65
LABEL_HALF = (0.42, 0.22)


_SUB = "₀₁₂₃₄₅₆₇₈₉"


def _fmt(v: float) -> str:
    return minus(f"{v:.2f}")


# ---------------------------------------------------------------------------- cholesky


def run_cholesky(p0: Params) -> FrameGenerator:
    p = p0
    n = p0.n_samples
    z = np.random.default_rng(p0.seed).standard_normal((n, 2))
    frames = 1 + CH_MOVE
    eye = np.eye(2)
    lim = (-5.0, 5.0)
    zero = np.zeros(2)
    source = Panel({
        "z": Points(z, size=0.6, alpha=0.6, series=MUTED),
        "N(0, I)": contours(zero, eye, 1.0),
        "N(0, I) 2σ": contours(zero, eye, 2.0),
        "e₁, e₂": Arrows(np.zeros((2, 2)), eye, series=INK, min_px=ARROW_PX),
        "names": Labels(eye, ("e₁", "e₂")),
    }, title="z ~ N(0, I)", xlim=lim, ylim=lim, xlabel="z1", ylabel="z2")
    for f in range(frames):
        mean = np.array([p.mu_x, p.mu_y])
        cov = cov_from(p.sigma_x, p.sigma_y, p.rho)
        big_l = cholesky(cov)
        s = float(smooth(f / CH_MOVE))
        mat = (1.0 - s) * eye + s * big_l  # the map applied so far: x = s μ + M z
        shift = s * mean
        pos = shift + z @ mat.T
        tips = shift + mat.T  # rows: the images M e₁ and M e₂
        names = ("e₁", "e₂") if s == 0.0 else ("Le₁", "Le₂") if s == 1.0 else ("Me₁", "Me₂")
        layers: dict[str, Layer] = {
            "samples": Points(pos, size=0.6, alpha=0.6, series="samples"),
            "target N(μ, Σ)": contours(mean, cov, 1.0),
            "target 2σ": contours(mean, cov, 2.0),
            "columns": Arrows(np.stack([shift, shift]), tips, series=INK, min_px=ARROW_PX),
            "names": Labels(tips, names),
        }
        sc = np.cov(pos.T)
        gap = float(np.linalg.norm(sc - cov))
        lt = (f"L = [[{_fmt(big_l[0, 0])}, 0], [{_fmt(big_l[1, 0])}, "
              f"{_fmt(big_l[1, 1])}]]")
        if f == 0:
            caption = (f"z ~ N(0, I): {n} standard normal points. Next, x = μ + Lz with "
                       f"{lt}, the Cholesky factor of the target Σ = LLᵀ (dashed).")
        elif f < frames - 1:
            caption = (f"x = sμ + Mz with M = (1 − s)I + sL going from I to L as s goes from "
                       f"0 to 1 (now s = {s:.2f}): the cloud shears and stretches.")
        else:
            caption = (f"x = μ + Lz maps N(0, I) to N(μ, Σ) because Cov(Lz) = LLᵀ = Σ; here "
                       f"{lt}; the {n} points' sample covariance differs from Σ by {gap:.3f} "
                       "(Frobenius norm).")
        target = Panel(layers, title="x = μ + Lz", xlim=lim, ylim=lim, xlabel="x",
                       ylabel="y")
        hold = HOLD_START if f == 0 else HOLD_END if f == frames - 1 else 0.0
        new = yield Frame(step=f, total=frames, title="Cholesky: correlated Gaussians",
                          panels=(source, target), metrics={f"{CH_GROUP}/samples": gap},
                          caption=caption, series=SERIES, x=s,
                          xlabel="s, the share of x = μ + Lz applied",
                          pace=CH_PACE if f else 1.0, hold=hold)
        if new is not None:
            p = new


# ---------------------------------------------------------------------------- ancestral


def mixture(p: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights (K,), means (K, 2), covs (K, 2, 2) of a pleasant random mixture."""
    rng = np.random.default_rng([p.seed, 1])
    kk = p.k
    ang = 2.0 * np.pi * (np.arange(kk) + rng.uniform(-0.25, 0.25, kk)) / kk
    rad = p.spread * rng.uniform(0.75, 1.1, kk)
    means = np.column_stack([rad * np.cos(ang), rad * np.sin(ang)])
    sds = rng.uniform(0.25, 0.6, (kk, 2))
    rhos = rng.uniform(-0.7, 0.7, kk)
    covs = np.stack([cov_from(sds[j, 0], sds[j, 1], rhos[j]) for j in range(kk)])
    weights = rng.dirichlet(np.full(kk, 3.0))
    return weights, means, covs


def label_anchors(weights: np.ndarray, means: np.ndarray, covs: np.ndarray,
                  lim: tuple[float, float]) -> np.ndarray:
    """Where each component's name is anchored: the point of its LABEL_RINGS σ contours
    whose text (placed above the anchor) covers the least mixture density, so the fewest
    samples, clear of the names placed before it and inside the view."""
    t = np.linspace(0.0, 2.0 * np.pi, 24, endpoint=False)
    circle = np.column_stack([np.cos(t), np.sin(t)])
    hw, hh = LABEL_HALF
    box = np.array([[dx, LABEL_LIFT + dy] for dx in (-hw, 0.0, hw) for dy in (-hh, hh)])
    out = np.zeros_like(means)
    taken: list[np.ndarray] = []
    for j in np.argsort(-weights, kind="stable"):  # the heaviest choose first
        root = np.linalg.cholesky(covs[j])
        ring = np.concatenate([means[j] + r * circle @ root.T for r in LABEL_RINGS])
        further = np.repeat(np.arange(len(LABEL_RINGS)), len(t)) * LABEL_FURTHER
        spots = ring[:, None, :] + box[None]
        dens = np.exp(gmm.log_density(spots.reshape(-1, 2), weights, means, covs))
        cost = dens.reshape(len(ring), -1).max(axis=1) + further
        centre = ring + [0.0, LABEL_LIFT]
        for c in taken:
            cost += 1e3 * ((np.abs(centre - c) < [2 * hw, 2 * hh]).all(axis=1))
        cost += 1e3 * ((np.abs(centre) + [hw, hh]) > lim[1]).any(axis=1)
        best = int(np.argmin(cost))
        out[j] = ring[best]
        taken.append(centre[best])
    return out


def run_ancestral(p: Params) -> FrameGenerator:
    n = p.n_samples
    weights, means, covs = mixture(p)
    kk = len(weights)
    comp, x = ancestral_gmm(weights, means, covs, n, seed=p.seed)
    arrive = arrivals(n, AN_SLOW, AN_GAP, AN_FLOOD)
    slow_end = min(AN_SLOW, n) * AN_GAP
    chosen = int(arrive[-1])  # the frame on which every point has its component
    frames = chosen + 1 + AN_MOVE
    lim = (-4.5, 4.5)
    # each component named beside its contour, in its own colour; its weight on its bar
    colour = COMPONENT_COLOURS[:kk]
    top = label_anchors(weights, means, covs, lim)
    names = {f"k = {j + 1}": Labels(top[j:j + 1], (f"k = {j + 1}",), series=int(colour[j]))
             for j in range(kk)}
    ticks = np.arange(1, kk + 1)
    pi_marks = Segments(np.column_stack([ticks - 0.45, weights]),
                        np.column_stack([ticks + 0.45, weights]), series="exact")
    # each weight named on its mark, in its component's colour
    pi_names = {f"π{j + 1}": Labels([[j + 1.0, w]], (f"π{_SUB[j + 1]} = {w:.2f}",),
                                    series=int(colour[j]))
                for j, w in enumerate(weights)}
    ylim_bar = (0.0, float(min(1.0, 1.5 * weights.max() + 0.05)))
    title = f"Ancestral sampling: a mixture of {kk} Gaussians"
    for f in range(frames):
        k = int(np.searchsorted(arrive, f, side="right"))
        s = float(smooth((f - chosen) / AN_MOVE))
        c = comp[:k]
        pos = (1.0 - s) * means[c] + s * x[:k]
        plane: dict[str, Layer] = {
            "components": Ellipses(means, covs, weights=weights / weights.max(),
                                   labels=colour),
            "samples": Points(pos, labels=colour[c], size=0.7)}
        plane["means"] = Points(means, labels=colour, highlight=True)
        if f < slow_end:  # the point that has just drawn its component, at that mean
            plane["drawn"] = Points(means[comp[k - 1:k]], size=2.2, highlight=True,
                                    series="traced draws")
        plane.update(names)
        freq = np.bincount(c, minlength=kk) / max(k, 1)
        bars: dict[str, Layer] = {
            f"component {j + 1}": Histogram([j + 0.6, j + 1.4], [freq[j]],
                                            series=int(colour[j]))
            for j in range(kk)}
        bars["π"] = pi_marks
        bars.update(pi_names)
        tv = 0.5 * float(np.abs(freq - weights).sum())
        metrics = {"TV(frequencies, π)": tv} if k >= ENOUGH else {}
        if f < slow_end:
            i = k - 1
            caption = (f"Point {i + 1}: k ~ Cat(π) drew component {comp[i] + 1}, by inverse "
                       "CDF from a uniform u (k = the first index with π₁ + … + π_k > u); the "
                       "point waits at that component's mean.")
        elif f <= chosen:
            caption = ("k ~ Cat(π): each point first draws its component; the bars count how "
                       f"often each was drawn, against π (dashed): total variation {tv:.3f}.")
        else:
            caption = ("Then x ~ N(μ_k, Σ_k), x = μ_k + L_k z: drawing the ancestor k first "
                       "and the point second samples the mixture Σ π_k N(μ_k, Σ_k).")
        panels = (
            Panel(plane, title="k ~ Cat(π), then x ~ N(μ_k, Σ_k)", xlim=lim, ylim=lim,
                  xlabel="x", ylabel="y"),
            Panel(bars, title="component frequencies vs π", xlim=(0.4, kk + 0.6),
                  ylim=ylim_bar, equal_aspect=False, xlabel="component k",
                  ylabel="frequency"),
        )
        pace = AN_SLOW_PACE if f < slow_end else AN_PACE
        hold = (HOLD_FIRST if f == 0 else HOLD_CHOSEN if f == chosen
                else HOLD_END if f == frames - 1 else 0.0)
        new = yield Frame(step=f, total=frames, title=title, panels=panels,
                          metrics=metrics, caption=caption,
                          series=SERIES, x=k, xlabel="samples drawn", pace=pace, hold=hold)
        if new is not None:
            p = new
