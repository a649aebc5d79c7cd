"""Lab "sampling": from uniform numbers to Gaussians, one step at a time.

Modes (each a short animation of ~60 frames):

* ``lcg``: a linear congruential generator X_{t+1} = (a X_t + c) mod m; its pairs in the unit
  square and its triples seen edge-on along the spectral test's worst normal h, next to
  numpy's PCG64 triples in the same view.
* ``box-muller``: R = sqrt(-2 ln U1), theta = 2 pi U2 turns the unit square into the plane.
* ``inverse-cdf``: x = F^{-1}(u) for an exponential, a Gaussian or a two-component mixture.
* ``cholesky``: x = mu + L z turns N(0, I) into N(mu, Sigma), Sigma = L L^T.
* ``ancestral``: k ~ Cat(pi), then x ~ N(mu_k, Sigma_k) samples a Gaussian mixture.

The numerics live in ``genlab.engine.sampling``; this module only stages them as frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from genlab.engine.sampling import (
    GENERATORS,
    ancestral_gmm,
    box_muller,
    cdf,
    cholesky,
    cov_from,
    inverse_cdf,
    lcg_uniforms,
    pdf,
    worst_planes,
)
from genlab.labs.base import FrameGenerator, LabInfo, RunContext
from genlab.labs.frame import (
    Curve,
    Ellipses,
    Frame,
    Histogram,
    Labels,
    Layer,
    Panel,
    Points,
    Segments,
)
from genlab.labs.params import Choice, Range

MODES = ("lcg", "box-muller", "inverse-cdf", "cholesky", "ancestral")
LCG_CHOICES = ("RANDU", "MINSTD", "Numerical Recipes", "tiny lattice", "custom")
DISTS = ("exponential", "gaussian", "mixture")

_LCG = ("mode", ("lcg",))
_CUSTOM = ("generator", ("custom",))
_TRACED = ("mode", ("box-muller", "inverse-cdf"))
_INV = ("mode", ("inverse-cdf",))
_CHOL = ("mode", ("cholesky",))
_ANC = ("mode", ("ancestral",))

# The 1D mixture of the inverse-CDF mode: weights, stds; means at -/+ separation / 2.
_MIX_WEIGHTS = (0.35, 0.65)
_MIX_STDS = (0.6, 1.0)


@dataclass(frozen=True)
class Params:
    mode: Annotated[str, Choice(
        MODES, "which step from uniform numbers to samples to animate")] = "box-muller"
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of numpy's PCG64 generator, which draws the uniforms "
        "(except the LCG's own)")] = 0
    n_samples: Annotated[int, Range(
        50, 20000, "how many samples the run draws", step=50, label="samples")] = 2000
    # --- lcg
    generator: Annotated[str, Choice(
        LCG_CHOICES, "a known linear congruential generator, or your own m, a, c",
        when=_LCG)] = "RANDU"
    m: Annotated[int, Range(
        2, 2**32, "modulus m of X ← (aX + c) mod m", when=_CUSTOM)] = 256
    a: Annotated[int, Range(
        0, 2**32 - 1, "multiplier a of X ← (aX + c) mod m (taken mod m)", when=_CUSTOM)] = 137
    c: Annotated[int, Range(
        0, 2**32 - 1, "increment c of X ← (aX + c) mod m (taken mod m)", when=_CUSTOM)] = 187
    x0: Annotated[int, Range(
        0, 2**32 - 1, "the LCG's seed X₀ (taken mod m); the first uniform is X₁ / m",
        when=_LCG, label="X₀")] = 1
    # --- box-muller and inverse-cdf
    traced: Annotated[int, Range(
        0, 12, "how many draws show their construction (R and θ, or the path u → x)",
        live=True, when=_TRACED)] = 4
    # --- inverse-cdf
    dist: Annotated[str, Choice(
        DISTS, "the distribution whose inverse CDF maps the uniforms",
        when=_INV, label="distribution")] = "exponential"
    rate: Annotated[float, Range(
        0.2, 5.0, "rate λ of the exponential, F(x) = 1 − e^(−λx)", step=0.1, live=True,
        when=("dist", ("exponential",)), label="rate λ")] = 1.0
    mu: Annotated[float, Range(
        -3.0, 3.0, "mean μ of the Gaussian", step=0.1, live=True,
        when=("dist", ("gaussian",)), label="μ")] = 0.0
    sigma: Annotated[float, Range(
        0.2, 3.0, "standard deviation σ of the Gaussian", step=0.05, live=True,
        when=("dist", ("gaussian",)), label="σ")] = 1.0
    separation: Annotated[float, Range(
        0.0, 6.0, "distance between the two mixture components' means", step=0.1,
        live=True, when=("dist", ("mixture",)))] = 3.0
    # --- cholesky
    mu_x: Annotated[float, Range(
        -2.0, 2.0, "target mean μ, x coordinate", step=0.1, live=True, when=_CHOL,
        label="μ x")] = 0.5
    mu_y: Annotated[float, Range(
        -2.0, 2.0, "target mean μ, y coordinate", step=0.1, live=True, when=_CHOL,
        label="μ y")] = -0.3
    sigma_x: Annotated[float, Range(
        0.2, 2.0, "target standard deviation along x", step=0.05, live=True, when=_CHOL,
        label="σ x")] = 1.5
    sigma_y: Annotated[float, Range(
        0.2, 2.0, "target standard deviation along y", step=0.05, live=True, when=_CHOL,
        label="σ y")] = 0.7
    rho: Annotated[float, Range(
        -0.95, 0.95, "target correlation ρ between x and y", step=0.05, live=True,
        when=_CHOL, label="ρ")] = 0.7
    # --- ancestral
    k: Annotated[int, Range(
        2, 8, "number of mixture components K", when=_ANC, label="K")] = 4
    spread: Annotated[float, Range(
        0.5, 3.0, "how far the component means lie from the origin", step=0.1,
        when=_ANC)] = 2.5


# ---------------------------------------------------------------------------- helpers


def _smooth(t: np.ndarray | float) -> np.ndarray:
    """Smoothstep 3t² − 2t³ on [0, 1] (clipped), for easing the motion."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _arrivals(n: int, frames: int, slow: int = 0, start: int = 1) -> np.ndarray:
    """Cumulative sample counts per frame: ``slow`` frames adding one sample each, then a
    geometric ramp to ``n``.  Non-decreasing, last entry n."""
    slow = max(0, min(slow, n - 1, frames - 1))
    head = np.arange(1, slow + 1)
    first = max(slow, start, 1)
    tail = np.ceil(np.geomspace(first, n, frames - slow + (1 if slow else 0)))
    tail = tail[1:] if slow else tail
    counts = np.minimum(np.concatenate([head, tail]).astype(np.int64), n)
    counts = np.maximum.accumulate(counts)
    counts[-1] = n
    return counts


def _fmt_vec(h: np.ndarray) -> str:
    return "(" + ", ".join(str(int(v)).replace("-", "−") for v in h) + ")"


def _square(x0: float = 0.0, y0: float = 0.0, x1: float = 1.0,
            y1: float = 1.0) -> Segments:
    c = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    return Segments(c, np.roll(c, -1, axis=0), series=7)


def _density_hist(x: np.ndarray, edges: np.ndarray, total: int, series: int = 0) -> Histogram:
    counts, _ = np.histogram(x, bins=edges)
    heights = counts / (max(total, 1) * np.diff(edges))
    return Histogram(edges, heights, series=series)


def _ks_uniform(u: np.ndarray) -> float:
    """Kolmogorov–Smirnov distance of the uniforms u to U(0, 1).

    With x = F⁻¹(u), F(x) = u, so this is also x's distance to F: the method is exact."""
    n = len(u)
    if n == 0:
        return 0.0
    s = np.sort(u)
    i = np.arange(1, n + 1)
    return float(max((i / n - s).max(), (s - (i - 1) / n).max()))


# ---------------------------------------------------------------------------- lcg


_DISPLAY = {"RANDU": "RANDU", "MINSTD": "MINSTD", "Numerical Recipes": "Numerical Recipes' LCG",
            "tiny lattice": "The tiny LCG"}


def _lcg_spec(p: Params) -> tuple[str, int, int, int]:
    """(display name, m, a, c) of the chosen generator; a custom one's a, c taken mod m."""
    if p.generator == "custom":
        m = int(p.m)
        return "This LCG", m, p.a % m, p.c % m
    g = GENERATORS[p.generator]
    return _DISPLAY[p.generator], g.m, g.a, g.c


def _edge_on_basis(h: np.ndarray) -> np.ndarray:
    """Rows e1 = h/|h| and a unit e2 ⟂ e1 (as close to the cube's diagonal as possible)."""
    e1 = h.astype(np.float64) / np.linalg.norm(h)
    for guess in ([1.0, 1.0, 1.0], [1.0, -1.0, 0.0], [0.0, 0.0, 1.0]):
        v = np.array(guess) - (np.array(guess) @ e1) * e1
        if np.linalg.norm(v) > 1e-6:
            return np.stack([e1, v / np.linalg.norm(v)])
    raise AssertionError("unreachable: three guesses cannot all be parallel to h")


def _cube_edges(basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], float)
    pairs = [(a, b) for a in range(8) for b in range(a + 1, 8)
             if np.abs(corners[a] - corners[b]).sum() == 1]
    starts = np.array([corners[a] for a, _ in pairs]) @ basis.T
    ends = np.array([corners[b] for _, b in pairs]) @ basis.T
    return starts, ends


def _lim(lo: float, hi: float, pad: float = 0.05) -> tuple[float, float]:
    d = (hi - lo) * pad
    return (float(lo - d), float(hi + d))


def _run_lcg(p: Params) -> FrameGenerator:
    name, m, a, c = _lcg_spec(p)
    n = p.n_samples
    x0 = p.x0 % m
    u = lcg_uniforms(m, a, c, x0, n + 2)
    pairs = np.column_stack([u[:n], u[1:n + 1]])
    triples = np.column_stack([u[:n], u[1:n + 1], u[2:n + 2]])
    h, planes = worst_planes(m, a, 3, c)
    h2, lines = worst_planes(m, a, 2, c)
    basis = _edge_on_basis(h)
    proj = triples @ basis.T
    ref = np.random.default_rng(p.seed).random(n + 2)
    ref_proj = np.column_stack([ref[:n], ref[1:n + 1], ref[2:n + 2]]) @ basis.T
    starts, ends = _cube_edges(basis)
    allc = np.concatenate([starts, ends])
    xlim = _lim(allc[:, 0].min(), allc[:, 0].max())
    ylim = _lim(allc[:, 1].min(), allc[:, 1].max())
    hu = triples @ h.astype(np.float64)  # = k + delta: the plane each triple lies on
    plane_id = np.round(hu - hu[0]).astype(np.int64)

    hs = _fmt_vec(h)
    planes_s = f"{planes} plane{'s' if planes != 1 else ''}"
    spacing = 1.0 / float(np.linalg.norm(h))
    if planes <= 60:
        caption = (f"{name}'s triples fall on {planes_s}, normal {hs}: seen edge-on "
                   f"they are lines {spacing:.3f} apart, while numpy's PCG64 fills the cube.")
    else:
        caption = (f"{name}'s triples lie on {planes_s} with normal {hs}, only "
                   f"{spacing:.2g} apart: too fine to see here, like numpy's PCG64.")
    title = f"X ← (aX + c) mod m: {p.generator}"
    if p.generator == "custom":
        title = f"X ← (aX + c) mod m with m = {m}, a = {a}, c = {c}"
    pairs_title = "pairs (U_t, U_t+1)"
    if lines <= 60:
        pairs_title += f": {lines} lines, normal {_fmt_vec(h2)}"
    frames = 60
    counts = _arrivals(n, frames, start=max(1, n // 60))
    cube = Segments(starts, ends, series=7)
    for f in range(frames):
        k = int(counts[f])
        panels = (
            Panel({"pairs": Points(pairs[:k], size=0.6)},
                  title=pairs_title, xlim=(-0.02, 1.02), ylim=(-0.02, 1.02),
                  xlabel="U_t", ylabel="U_t+1"),
            Panel({"cube": cube, "triples": Points(proj[:k], size=0.6)},
                  title=f"triples seen edge-on: {p.generator}", xlim=xlim, ylim=ylim,
                  xlabel=f"along h = {hs} / |h|", ylabel="across"),
            Panel({"cube": cube, "triples": Points(ref_proj[:k], size=0.6, series=1)},
                  title="numpy PCG64, same view", xlim=xlim, ylim=ylim,
                  xlabel=f"along h = {hs} / |h|", ylabel="across"),
        )
        metrics = {"planes/hit by the triples": float(len(np.unique(plane_id[:k]))),
                   "planes/bound from h": float(planes)}
        frame = Frame(step=f, total=frames, title=title, panels=panels, metrics=metrics,
                      caption=caption)
        new = yield frame
        if new is not None:
            p = new  # nothing in this mode is live; kept for the protocol


# ---------------------------------------------------------------------------- box-muller


def _run_box_muller(p: Params) -> FrameGenerator:
    n = p.n_samples
    rng = np.random.default_rng(p.seed)
    u1, u2 = rng.random(n), rng.random(n)
    z1, z2 = box_muller(u1, u2)
    z = np.column_stack([z1, z2])
    start = np.column_stack([u1, u2])
    radius = np.hypot(z1, z2)
    theta = 2.0 * np.pi * u2
    arrive_frames, move, hold = 36, 14, 6
    frames = arrive_frames + move + hold
    counts = _arrivals(n, arrive_frames, slow=4)
    arrived_at = np.searchsorted(counts, np.arange(n), side="right")
    edges = np.linspace(-4.0, 4.0, 41)
    gx = np.linspace(-4.0, 4.0, 241)
    normal = np.exp(-0.5 * gx**2) / np.sqrt(2.0 * np.pi)
    title = "Box–Muller: two uniforms → two Gaussians"
    caption = ("R = √(−2 ln U1), θ = 2πU2 and (z1, z2) = (R cos θ, R sin θ) turn two "
               "uniforms into two independent N(0, 1) draws.")
    for f in range(frames):
        k = int(counts[min(f, arrive_frames - 1)])
        s = _smooth((f - arrived_at[:k]) / move)[:, None]
        pos = (1.0 - s) * start[:k] + s * z[:k]
        landed = z[:k][s[:, 0] >= 1.0]
        nt = min(p.traced, k)
        square: dict[str, Layer] = {"uniforms": Points(start[:k], values=u2[:k], size=0.7)}
        plane: dict[str, Layer] = {"unit square": _square(),
                                   "samples": Points(pos, values=u2[:k], size=0.7)}
        if nt:
            tr = start[:nt]
            square["U1, U2"] = Segments(
                np.concatenate([tr, tr]),
                np.concatenate([np.column_stack([tr[:, 0], np.zeros(nt)]),
                                np.column_stack([np.zeros(nt), tr[:, 1]])]), series=1)
            square["traced"] = Points(tr, highlight=True, series=1)
            square["names"] = Labels(np.array([[tr[0, 0], -0.03], [-0.03, tr[0, 1]]]),
                                     ("U1", "U2"), series=1)
            plane["radius"] = Segments(np.zeros((nt, 2)), pos[:nt], series=1)
            plane["traced"] = Points(pos[:nt], highlight=True, series=1)
            j = int(np.argmax(radius[:nt]))  # name R and θ on the longest traced radius
            if s[j, 0] >= 1.0:  # ... once it has landed
                ta = theta[j]
                arc = np.linspace(0.0, ta, 48)
                r_arc = 0.45
                plane["angle"] = Curve(r_arc * np.cos(arc), r_arc * np.sin(arc), series=1,
                                       width=1.5)
                normal_dir = np.array([-np.sin(ta), np.cos(ta)])
                mid_a = 0.5 * ta
                plane["names"] = Labels(
                    np.array([0.55 * z[j] + 0.3 * normal_dir,
                              [1.1 * np.cos(mid_a), 1.1 * np.sin(mid_a)]]),
                    (f"R = {radius[j]:.2f}", f"θ = {ta:.2f}"), series=1)
        hist: dict[str, Layer] = {"z1": _density_hist(landed[:, 0], edges, len(landed)),
                                  "N(0, 1)": Curve(gx, normal, series=1)}
        metrics: dict[str, float] = {"samples/landed": float(len(landed))}
        if len(landed) >= 2:
            metrics["moments/mean z1"] = float(landed[:, 0].mean())
            metrics["moments/std z1"] = float(landed[:, 0].std())
            if landed.std(axis=0).min() > 0:
                metrics["moments/corr(z1, z2)"] = float(np.corrcoef(landed.T)[0, 1])
        panels = (
            Panel(square, title="uniforms (U1, U2)", xlim=(-0.08, 1.05), ylim=(-0.08, 1.05),
                  xlabel="U1", ylabel="U2"),
            Panel(plane, title="(z1, z2) = R (cos θ, sin θ)", xlim=(-4.0, 4.0),
                  ylim=(-4.0, 4.0), xlabel="z1", ylabel="z2"),
            Panel(hist, title="z1 against N(0, 1)", xlim=(-4.0, 4.0), ylim=(0.0, 0.6),
                  equal_aspect=False, xlabel="z1", ylabel="density"),
        )
        new = yield Frame(step=f, total=frames, title=title, panels=panels, metrics=metrics,
                          caption=caption)
        if new is not None:
            p = new


# ---------------------------------------------------------------------------- inverse-cdf


def _dist_params(p: Params) -> dict[str, Any]:
    if p.dist == "exponential":
        return {"rate": p.rate}
    if p.dist == "gaussian":
        return {"mu": p.mu, "sigma": p.sigma}
    return {"weights": _MIX_WEIGHTS, "means": (-p.separation / 2, p.separation / 2),
            "stds": _MIX_STDS}


def _x_range(p: Params) -> tuple[float, float]:
    if p.dist == "exponential":
        return (0.0, 6.0 / p.rate)
    if p.dist == "gaussian":
        return (p.mu - 4.0 * p.sigma, p.mu + 4.0 * p.sigma)
    return (-p.separation / 2 - 4.0 * _MIX_STDS[0], p.separation / 2 + 4.0 * _MIX_STDS[1])


def _inverse_caption(p: Params) -> str:
    if p.dist == "exponential":
        how = f"x = F⁻¹(u) = −ln(1 − u)/λ with λ = {p.rate:g}"
    elif p.dist == "gaussian":
        how = f"x = F⁻¹(u) = μ + σΦ⁻¹(u) with μ = {p.mu:g}, σ = {p.sigma:g}"
    else:
        how = "x = F⁻¹(u), solved by Newton's method since the mixture's F has no closed-form "
        how += "inverse"
    return f"{how}: a uniform height u on the CDF maps to the x where F(x) = u, so x has " \
           "density f."


def _run_inverse_cdf(p0: Params) -> FrameGenerator:
    p = p0
    n = p0.n_samples
    u = np.random.default_rng(p0.seed).random(n)
    frames = 56
    counts = _arrivals(n, frames, slow=12)
    cache_key: tuple[Any, ...] | None = None
    xs = np.zeros(0)
    title = "Inverse CDF: " + {"exponential": "exponential", "gaussian": "Gaussian",
                               "mixture": "a two-Gaussian mixture"}[p0.dist]
    for f in range(frames):
        k = int(counts[f])
        params = _dist_params(p)
        key = (p.dist, repr(sorted(params.items())))
        if key != cache_key:
            xs, cache_key = np.zeros(0), key
        if len(xs) < k:  # only the new uniforms need mapping (all of them after a change)
            xs = np.concatenate([xs, inverse_cdf(p.dist, u[len(xs):k], **params)])
        lo, hi = _x_range(p)
        gx = np.linspace(lo, hi, 400)
        fx = pdf(p.dist, gx, **params)
        big_f = cdf(p.dist, gx, **params)
        nt = min(p.traced, k)
        cdf_layers: dict[str, Layer] = {"F(x)": Curve(gx, big_f, width=2.5)}
        if nt:
            uu = u[k - nt:k]
            xx = np.clip(xs[k - nt:k], lo, hi)
            cdf_layers["u → x"] = Segments(
                np.concatenate([np.column_stack([np.full(nt, lo), uu]),
                                np.column_stack([xx, uu])]),
                np.concatenate([np.column_stack([xx, uu]),
                                np.column_stack([xx, np.zeros(nt)])]), series=1)
            cdf_layers["u"] = Points(np.column_stack([np.full(nt, lo), uu]), highlight=True,
                                     series=1)
            cdf_layers["x"] = Points(np.column_stack([xx, np.zeros(nt)]), highlight=True,
                                     series=2)
        edges = np.linspace(lo, hi, 41)
        hist_layers: dict[str, Layer] = {"samples": _density_hist(xs[:k], edges, k),
                                         "f(x)": Curve(gx, fx, series=1)}
        d = _ks_uniform(u[:k])
        metrics = {"KS distance/samples": d, "KS distance/95% band 1.36/√n": 1.358 / np.sqrt(k),
                   "samples/drawn": float(k)}
        panels = (
            Panel(cdf_layers, title="u = F(x)", xlim=(lo, hi), ylim=(-0.03, 1.03),
                  equal_aspect=False, xlabel="x", ylabel="u"),
            Panel(hist_layers, title="samples against f(x)", xlim=(lo, hi),
                  ylim=(0.0, 1.25 * float(fx.max())), equal_aspect=False, xlabel="x",
                  ylabel="density"),
        )
        new = yield Frame(step=f, total=frames, title=title, panels=panels, metrics=metrics,
                          caption=_inverse_caption(p))
        if new is not None:
            p = new


# ---------------------------------------------------------------------------- cholesky


def _run_cholesky(p0: Params) -> FrameGenerator:
    p = p0
    n = p0.n_samples
    z = np.random.default_rng(p0.seed).standard_normal((n, 2))
    wait, move, hold = 6, 36, 14
    frames = wait + move + hold
    eye = np.eye(2)
    lim = (-5.0, 5.0)
    circle = Ellipses([[0.0, 0.0]], [eye], labels=[1], n_std=(1.0,), dashed=True)
    source = Panel({
        "N(0, I)": circle,
        "z": Points(z, size=0.6, series=7),
        "e₁, e₂": Segments(np.zeros((2, 2)), eye, series=1),
        "names": Labels(1.15 * eye, ("e₁", "e₂"), series=1),
    }, title="z ~ N(0, I)", xlim=lim, ylim=lim, xlabel="z1", ylabel="z2")
    for f in range(frames):
        mean = np.array([p.mu_x, p.mu_y])
        cov = cov_from(p.sigma_x, p.sigma_y, p.rho)
        big_l = cholesky(cov)
        s = float(_smooth((f - wait) / move))
        mat = (1.0 - s) * eye + s * big_l  # the map applied so far: x = s μ + M z
        shift = s * mean
        pos = shift + z @ mat.T
        tips = shift + mat.T  # rows: the images M e₁ and M e₂
        layers: dict[str, Layer] = {
            "N(0, I)": circle,
            "target N(μ, Σ)": Ellipses([mean], [cov], labels=[0], n_std=(1.0, 2.0)),
            "samples": Points(pos, size=0.6),
            "L columns": Segments(np.stack([shift, shift]), tips, series=1),
            "names": Labels(tips + 0.15 * (tips - shift), ("Le₁", "Le₂"), series=1),
        }
        sc = np.cov(pos.T)
        metrics = {
            "cov/sample xx": sc[0, 0], "cov/target xx": cov[0, 0],
            "cov/sample xy": sc[0, 1], "cov/target xy": cov[0, 1],
            "cov/sample yy": sc[1, 1], "cov/target yy": cov[1, 1],
        }
        caption = (f"x = μ + Lz maps N(0, I) to N(μ, Σ) because Cov(Lz) = LLᵀ = Σ; here "
                   f"L = [[{big_l[0, 0]:.2f}, 0], [{big_l[1, 0]:.2f}, {big_l[1, 1]:.2f}]].")
        target = Panel(layers, title="x = μ + Lz", xlim=lim, ylim=lim, xlabel="x",
                       ylabel="y")
        new = yield Frame(step=f, total=frames, title="Cholesky: correlated Gaussians",
                          panels=(source, target), metrics=metrics, caption=caption)
        if new is not None:
            p = new


# ---------------------------------------------------------------------------- ancestral


def _mixture(p: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _run_ancestral(p: Params) -> FrameGenerator:
    n = p.n_samples
    weights, means, covs = _mixture(p)
    kk = len(weights)
    comp, x = ancestral_gmm(weights, means, covs, n, seed=p.seed)
    draw, move, hold = 24, 24, 8
    frames = draw + move + hold
    counts = _arrivals(n, draw, slow=6)
    lim = (-4.5, 4.5)
    out = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-9)
    names = Labels(means + 1.4 * out,
                   tuple(f"{j + 1}: π = {w:.2f}" for j, w in enumerate(weights)))
    ticks = np.arange(1, kk + 1)
    pi_marks = Segments(np.column_stack([ticks - 0.45, weights]),
                        np.column_stack([ticks + 0.45, weights]), series=7)
    ylim_bar = (0.0, float(min(1.0, 1.5 * weights.max() + 0.05)))
    title = f"Ancestral sampling: a mixture of {kk} Gaussians"
    for f in range(frames):
        k = int(counts[min(f, draw - 1)])
        s = float(_smooth((f - draw) / move))
        c = comp[:k]
        pos = (1.0 - s) * means[c] + s * x[:k]
        plane: dict[str, Layer] = {"samples": Points(pos, labels=c, size=0.7)}
        if f >= draw:
            plane["components"] = Ellipses(means, covs, weights=weights / weights.max(),
                                           labels=np.arange(kk))
        plane["means"] = Points(means, labels=np.arange(kk), highlight=True)
        plane["names"] = names
        freq = np.bincount(c, minlength=kk) / k
        bars: dict[str, Layer] = {
            f"component {j + 1}": Histogram([j + 0.6, j + 1.4], [freq[j]], series=j)
            for j in range(kk)}
        bars["π"] = pi_marks
        metrics = {"TV(counts, π)": 0.5 * float(np.abs(freq - weights).sum()),
                   "samples/drawn": float(k)}
        if f < draw:
            caption = ("k ~ Cat(π): each point first draws its component from a uniform u by "
                       "inverse CDF, k = the first index with π₁ + … + π_k > u.")
        else:
            caption = ("Then x ~ N(μ_k, Σ_k), x = μ_k + L_k z: drawing the ancestor k first "
                       "and the point second samples the mixture Σ π_k N(μ_k, Σ_k).")
        panels = (
            Panel(plane, title="k ~ Cat(π), then x ~ N(μ_k, Σ_k)", xlim=lim, ylim=lim,
                  xlabel="x", ylabel="y"),
            Panel(bars, title="component frequencies vs π", xlim=(0.4, kk + 0.6),
                  ylim=ylim_bar, equal_aspect=False, xlabel="component", ylabel="frequency"),
        )
        new = yield Frame(step=f, total=frames, title=title, panels=panels, metrics=metrics,
                          caption=caption)
        if new is not None:
            p = new


# ---------------------------------------------------------------------------- entry point

_RUNNERS = {"lcg": _run_lcg, "box-muller": _run_box_muller, "inverse-cdf": _run_inverse_cdf,
            "cholesky": _run_cholesky, "ancestral": _run_ancestral}


def run(params: Params, ctx: RunContext | None = None) -> FrameGenerator:
    """Frames of the chosen mode; send a new Params at any yield to apply live fields."""
    return (yield from _RUNNERS[params.mode](params))


LAB = LabInfo(
    name="sampling",
    title="Sampling from uniforms",
    description="From uniform numbers to Gaussians: LCGs and their planes, Box–Muller, "
                "inverse CDF, Cholesky and ancestral sampling.",
    params=Params,
    run=run,
)
