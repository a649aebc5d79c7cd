"""The pictures of a run: trajectories, the distance against the steps (or, until its first
point, the training loss), the velocity fields, and the frame that holds them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from genlab.engine import flow_matching as fm
from genlab.labs.flow_matching import settings as S
from genlab.labs.flow_matching.flows import Flows
from genlab.labs.flow_matching.settings import FLOOR, LEGEND, SERIES, TARGET
from genlab.labs.flow_matching.setup import diverged
from genlab.labs.frame import (
    MUTED,
    Curve,
    Frame,
    Heatmap,
    Labels,
    Layer,
    Panel,
    Paths,
    Points,
    Segments,
    VectorField,
)
from genlab.labs.plane import signed

# short titles: three panels share a window that also holds the parameters
TITLES = {"independent": "independent pairs", "OT": "OT pairs (OT-CFM)",
          "exact": "FM, exact u_t", "PF-ODE": "diffusion PF-ODE, exact"}
W2_AT_N = "sliced W₂ at N"  # the bars of the distance with the chosen number of steps
STRAIGHTNESS = "straightness S"
FIELD_GAP = "field gap to u_t"


class Lab(Flows):
    """A run's flows, drawn."""

    def _lims(self, link: str) -> dict[str, Any]:
        return {"xlim": self.d.lim, "ylim": self.d.lim, "xlabel": "x₁", "ylabel": "x₂",
                "link": link}

    def solver(self, kind: str) -> str:
        if self.p.method == "euler":
            return "Euler"
        return "Heun" if kind == "PF-ODE" else "midpoint"

    def trajectory_panel(self, kind: str, frac: float) -> tuple[Panel, int]:
        """The particles of flow ``kind`` after round(frac·N) steps, with fading trails;
        returns (panel, steps shown)."""
        traj = self.trajectories(kind)
        name = LEGEND[kind]
        layers: dict[str, Layer] = {
            "target": Points(self.d.ref[:S.SHOW_TARGET], series=TARGET, size=0.45, alpha=0.5)}
        if traj is None:
            layers["particles"] = Points(np.zeros((0, 2)), series=name)
            return Panel(layers, title=f"{TITLES[kind]} · integrating …",
                         **self._lims("flows")), 0
        n_steps = traj.shape[0] - 1
        k = int(round(frac * n_steps))
        if k > 0:
            rows = np.unique(np.linspace(0, k, min(k + 1, S.TRAIL_ROWS)).astype(int))
            layers["trails"] = Paths(traj[rows, :S.TRAILS], series=name, alpha=0.9, fade=True)
        layers["particles"] = Points(traj[k], series=name, size=0.55, alpha=0.8)
        title = f"{TITLES[kind]} · {self.solver(kind)} {k}/{n_steps}"
        return Panel(layers, title=title, **self._lims("flows")), k

    def has_distances(self) -> bool:
        return any(self.distances(kind) for kind in self.curves())

    def distance_panel(self) -> Panel:
        """Sliced W₂ to the target against the number of steps N, one curve per flow, the
        floor, and the chosen N marked."""
        p = self.p
        xs = np.log2(np.array(S.DIST_STEPS, dtype=np.float64))
        x_lim = (-0.5, float(xs.max()) + 0.5)
        got = {kind: self.distances(kind) for kind in self.curves()}
        vals = [v for rows in got.values() for _, v in rows]
        top = 1.15 * max([self.d.floor * 2.0, 0.3, *vals])
        xn = math.log2(p.n_steps)
        layers: dict[str, Layer] = {
            "chosen N": Segments(np.array([[xn, 0.0]]), np.array([[xn, top]]),
                                 weights=np.array([0.6]), series=MUTED)}
        for kind, rows in got.items():
            if not rows:
                continue
            x = np.log2([n for n, _ in rows])
            y = np.array([v for _, v in rows])
            name = LEGEND[kind]
            layers[f"{kind} curve"] = Curve(x, y, series=name, width=2.5)
            layers[f"{kind} dots"] = Points(np.column_stack([x, y]), series=name, size=0.6)
            now = [v for n, v in rows if n == p.n_steps]
            if now:
                layers[f"{kind} now"] = Points(np.array([[xn, now[0]]]), series=name,
                                               highlight=True)
        layers["floor"] = Curve(np.array(x_lim), np.full(2, self.d.floor), series=FLOOR,
                                width=1.5)
        lo, hi = S.DIST_STEPS[0], S.DIST_STEPS[-1]
        return Panel(layers, title=f"sliced W₂ to the target, {self.solver('OT')}",
                     xlim=x_lim, ylim=(0.0, top), equal_aspect=False,
                     xlabel=f"log₂ N (N = {lo} … {hi} steps)", ylabel="sliced W₂")

    def loss_panel(self) -> Panel:
        """Both nets' loss on fixed pairs against the training step: the third panel until
        the distance curves have a point."""
        h = np.array(self.nets.history, dtype=np.float64).reshape(-1, 3)
        top = 1.1 * float(h[:, 1:].max()) if len(h) else 1.0
        layers: dict[str, Layer] = {}
        for col, kind in ((1, "independent"), (2, "OT")):
            name = LEGEND[kind]
            if len(h) > 1:
                layers[f"{kind} loss"] = Curve(h[:, 0], h[:, col], series=name, width=2.0)
            if len(h):
                layers[f"{kind} now"] = Points(h[-1:, [0, col]], series=name, size=0.8)
        return Panel(layers, title="training loss on fixed pairs",
                     xlim=(0.0, float(max(self.p.train_steps, self.nets.done, 1))),
                     ylim=(0.0, top), equal_aspect=False, xlabel="training step",
                     ylabel="loss")

    def exact_field(self, t: float) -> np.ndarray:
        if t not in self._exact_field:
            self._exact_field[t] = self.exact_v(self.field_cells, t)
        return self._exact_field[t]

    def heat(self, t: float) -> np.ndarray:
        if t not in self._heat:
            logp = fm.mixture_log_density(self.heat_cells, t, self.d.src_mix, self.d.tgt_mix)
            self._heat[t] = np.exp(logp - logp.max()).reshape(S.HEAT_N, S.HEAT_N)
        return self._heat[t]

    def field_panels(self, t: float) -> tuple[list[Panel], dict[str, float], str]:
        x_t = (1 - t) * self.err0 + t * self.err1  # x_t ~ p_t
        u = self.exact_v(x_t, t)
        # one arrow length for the three panels: the 90th percentile of |u_t| where p_t is
        cap = float(np.percentile(np.linalg.norm(u, axis=1), 90))

        def capped(uv: np.ndarray) -> np.ndarray:
            norm = np.linalg.norm(uv, axis=1, keepdims=True)
            return uv * np.minimum(1.0, cap / np.maximum(norm, 1e-12))

        panels = []
        for kind, c0, c1 in (("independent", self.cloud0, self.cloud1),
                             ("OT", self.cloud0_ot, self.cloud1_ot)):
            uv = self.nets.velocity(kind)(self.field_cells, t)
            if not np.isfinite(uv).all():
                raise diverged(kind, "its velocity is not finite", self.nets.done, self.p.lr)
            panels.append(Panel({
                "x_t": Points((1 - t) * c0 + t * c1, series=MUTED, size=0.45, alpha=0.5),
                "v_θ": VectorField(self.field_cells, capped(uv), series=LEGEND[kind]),
            }, title=f"learned v_θ, {LEGEND[kind]} pairs, t = {t:.2f}", **self._lims("fields")))
        exact_title = ("exact u_t over p_t" if self.d.exact else
                       "exact u_t for the fitted mixtures") + f", t = {t:.2f}"
        panels.insert(1, Panel({
            "p_t": Heatmap(self.heat(t), (*self.d.lim, *self.d.lim), contours=4),
            "u_t": VectorField(self.field_cells, capped(self.exact_field(t)),
                               series=LEGEND["exact"]),
        }, title=exact_title, **self._lims("fields")))
        err = {kind: float(np.linalg.norm(self.nets.velocity(kind)(x_t, t) - u, axis=1).mean())
               for kind in ("independent", "OT")}
        scale = float(np.linalg.norm(u, axis=1).mean())
        values = {f"{FIELD_GAP}/{LEGEND[k]}": v for k, v in err.items()}
        fit = "" if self.d.exact else (
            f" (exact for {self.d.src_text} → {self.d.tgt_text}, standing in for the sets)")
        caption = (f"Velocity fields at t = {t:.2f}, arrows capped at {cap:.2g}.  Middle: the "
                   f"exact marginal field u_t(x) = E[x₁ − x₀ | x_t = x] of independent pairs"
                   f"{fit}, over the density p_t of x_t = (1 − t)x₀ + t x₁.  Mean gap ‖v_θ − "
                   f"u_t‖ over x_t ~ p_t: independent {signed(err['independent'], 2)}, OT-CFM "
                   f"{signed(err['OT'], 2)} (mean |u_t| {signed(scale, 2)}): the independent "
                   "net learns u_t; the OT net learns another field, that of the OT coupling, "
                   "whose paths do not cross (grey: the x_t cloud of each net's pairs).")
        return panels, values, caption

    def straight_text(self, kind: str) -> str:
        got = self.straightness(kind)
        if got is None:
            return ""
        return f"{LEGEND[kind]}: S = {signed(got[0], 2)}, chord/length {got[1]:.3f}"

    def flow_panels(self, frac: float) -> tuple[list[Panel], dict[str, float], str]:
        p, s = self.p, self.store
        if p.view == "vs diffusion" and not self.diffusion_ok():
            panel = Panel({"note": Labels(np.array([[0.0, 0.0]]), (
                "choose source = standard normal",))}, title="vs diffusion: needs N(0, I)",
                **self._lims("flows"))
            caption = ("The diffusion PF-ODE starts from N(0, I): set the source to 'standard "
                       "normal' to compare the two ODEs from the same noise points.")
            return [panel], {}, caption
        panels, shown = [], 0
        for kind in self.kinds():
            panel, shown = self.trajectory_panel(kind, frac)
            panels.append(panel)
        # the third panel shows the distance curves once they have a point, the training
        # loss until then (an empty plot with a legend of curves to come says nothing)
        curves_shown = self.has_distances()
        panels.append(self.distance_panel() if curves_shown else self.loss_panel())
        # the bars appear once every flow of a group has its number (bars added one by one
        # would reorder the group's key)
        values: dict[str, float] = {}
        keys = {kind: self.store_key(kind, p.n_steps, p.method) for kind in self.curves()}
        dists = [f"{LEGEND[k]} {signed(s.dist[key], 2)}" for k, key in keys.items()
                 if key in s.dist]
        if all(key in s.dist for key in keys.values()):
            values = {f"{W2_AT_N}/{LEGEND[k]}": s.dist[key] for k, key in keys.items()}
            values[f"{W2_AT_N}/{FLOOR}"] = self.d.floor
        straight_s = {k: self.straightness(k) for k in self.kinds()}
        if all(v is not None for v in straight_s.values()):
            values.update({f"{STRAIGHTNESS}/{LEGEND[k]}": v[0]
                           for k, v in straight_s.items() if v is not None})
        dist_text = (f"  Sliced W₂ to the target with N = {p.n_steps}: " + ", ".join(dists)
                     + f" (floor, {self.d.floor_text}: {signed(self.d.floor, 2)})."
                     if dists else "")
        straight = "; ".join(t for t in (self.straight_text(k) for k in self.kinds()) if t)
        straight_text = (f"  Straightness (Liu et al.; 0 = straight lines at constant speed, "
                         f"{S.STRAIGHT_STEPS} Euler steps): {straight}." if straight else "")
        if p.view == "vs diffusion":
            caption = (f"The same N(0, I) points carried to {self.d.tgt_text} with N = "
                       f"{p.n_steps} steps by two exact ODEs, no model error, so only the paths "
                       "differ: left, flow matching's ẋ = u_t(x) of the straight-path "
                       "interpolation; right, diffusion's probability-flow ODE ẋ = "
                       "−½β(t)[x + ∇log p_t(x)] (VP linear; shown from the noise, t = 1, to "
                       "the data), whose speed changes sharply near the data, so few Euler "
                       "steps miss more (S measures that unevenness)." + dist_text
                       + straight_text)
        else:
            n_shown = p.n_particles if self.trained else S.PREVIEW_N
            fit = ("" if self.d.exact else
                   f" ({self.d.tgt_text}: it levels off at the fit's own distance)")
            exact = (f"; the 'exact field' curve is the exact field of independent pairs"
                     f"{fit}" if curves_shown else "")
            caption = (f"The same {n_shown} source points carried by both learned flows "
                       f"(trails: {S.TRAILS} particles), {shown} of {p.n_steps} steps.  OT "
                       "pairing uncrosses the training paths, so its flow is straighter and "
                       f"a few steps already land on the target{exact}." + dist_text
                       + straight_text)
        return panels, values, caption

    def frame(self, step: int, total: int | None, frac: float, lead: str,
              pace: float = 1.0, hold: float = 0.0) -> Frame:
        p = self.p
        if p.view == "fields":
            panels, values, caption = self.field_panels(round(p.time, 4))
        else:
            panels, values, caption = self.flow_panels(frac)
        metrics: dict[str, float] = {}
        if not self.trained:
            metrics = {f"loss/{LEGEND['independent']}": self.nets.losses["independent"],
                       f"loss/{LEGEND['OT']}": self.nets.losses["OT"]}
        if p.view == "vs diffusion":
            pair = f"N(0, I) → {self.d.tgt_text}"
        else:
            pair = f"{self.d.src_name} → {self.d.tgt_name}"
        title = (f"Flow matching · {pair} · {p.view}"
                 + ("" if self.trained else f" · training {self.nets.done} / {p.train_steps}"))
        # every frame sits at its training step: after training the loss plot's cursor stays
        # at the end instead of jumping to a frame number
        return Frame(step=step, total=total, title=title, panels=tuple(panels),
                     metrics=metrics, values=values, caption=(lead + caption).strip(),
                     series=SERIES, x=self.nets.done, xlabel="training step",
                     pace=pace, hold=hold)
