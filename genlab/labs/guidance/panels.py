"""The guidance lab's pictures: guided samples, the guided field with the three scores at the
probe, the fidelity and spread against w, and the caption."""

from __future__ import annotations

import math

import numpy as np

from genlab.labs.frame import (
    MUTED,
    Arrows,
    Curve,
    Handles,
    Heatmap,
    Labels,
    Layer,
    Panel,
    Points,
    Segments,
    VectorField,
)
from genlab.labs.guidance import settings as S
from genlab.labs.guidance.sampling import Sampling
from genlab.labs.guidance.settings import COND, GUIDED, UNCOND, Params, fidelity, spread
from genlab.labs.plane import signed

SCORE_SERIES = ((UNCOND, "∅"), (COND, "y"), (GUIDED, "w"))
W_ABOVE_ONE = ("w > 1: at each noise level the field is the score of p_t(x) p_t(y|x)^w, but "
               "those are not the marginals of one diffusion, so the samples do not follow "
               "p(x) p(y|x)^w (its contours under the exact samples) and depend on the "
               "sampler: fidelity up, diversity down, more than the tilted density says.")
MIN_ARROW_PX = 32.0
LABEL_REACH = 0.075
TOP_STEP = 0.25  # the trade-off panel's y limit grows in these steps, never cutting a curve


class Lab(Sampling):
    """One run's data, samples and pictures."""

    top = 1.25  # the trade-off panel's y limit so far in this run

    def _plane(self, layers: dict[str, Layer], title: str) -> Panel:
        return Panel(layers, title=title, xlim=self.lim, ylim=self.lim, xlabel="x₁",
                     ylabel="x₂", link="plane")

    def _backdrop(self) -> Points:
        return Points(self.show, labels=self.show_labels, size=0.45, alpha=0.18)

    def sample_panel(self, kind: str, x: np.ndarray | None, current: bool, c: int,
                     w: float) -> Panel:
        layers: dict[str, Layer] = {"data": self._backdrop()}
        if kind == "exact" and w > 1:
            layers["p(x) p(y|x)^w"] = self.tilted(c, w)
        if x is not None:
            _, _, cls = self.measures(x, c)
            layers["samples"] = Points(x, labels=self.values[cls], size=0.75, alpha=0.9)
        who = "learned ε_θ(x, t, y)" if kind == "learned" else "exact scores"
        state = "" if current else " (sampling…)"
        return self._plane(layers, f"{who}: class {self.values[c]}, w = {w:.2f}{state}")

    def data_panel(self) -> Panel:
        """The labelled points alone (the first frame, before anything is trained)."""
        return self._plane({"data": Points(self.show, labels=self.show_labels, size=0.6)},
                           f"{self.what}: the classes")

    def tilted(self, c: int, w: float) -> Heatmap:
        """Contours of the tilted density p₀(x)p₀(y|x)^w (t → 0), which guided samples do
        not follow."""
        key = (c, round(w, 6))
        if getattr(self, "_tilted", (None,))[0] != key:
            logd = self.cm.guided_log_density(self.heat_cells, 1e-3, c, w, self.schedule)
            dens = np.exp(logd - logd.max()).reshape(S.HEAT_N, S.HEAT_N)
            self._tilted = (key, Heatmap(dens, (*self.lim, *self.lim), contours=4,
                                         show_image=False))
        return self._tilted[1]

    def preview_panel(self, preview: np.ndarray, c: int, w: float, done: int) -> Panel:
        _, _, cls = self.measures(preview, c)
        return self._plane({"data": self._backdrop(),
                            "samples": Points(preview, labels=self.values[cls], size=0.75)},
                           f"training, step {done}: class {self.values[c]}, w = {w:.2f}")

    def probe_arrows(self, p: Params, c: int, w: float) -> dict[str, np.ndarray]:
        """The unconditional, conditional and guided scores at the probe, times v(t) (so an
        arrow points from x_t to a·E[x₀|x_t] for the exact ones): kind -> (3, 2)."""
        t = p.t
        v = float(self.schedule.marginal(t)[1])
        probe = np.array([[p.probe_x, p.probe_y]])
        arrows = {"exact": np.concatenate(self.cm.scores(probe, t, c, w, self.schedule)) * v}
        if self.trainer is not None:
            both = self.trainer.eps(np.repeat(probe, 2, 0), t,
                                    np.array([self.trainer.null_label, c]))
            lu, lc = -both[0:1] / math.sqrt(v), -both[1:2] / math.sqrt(v)
            arrows["learned"] = np.concatenate([lu, lc, lu + w * (lc - lu)]) * v
        self.check(*arrows.values())
        return arrows

    def field_panel(self, kind: str, p: Params, c: int, w: float,
                    arrows: dict[str, np.ndarray]) -> Panel:
        """The guided field of ``kind`` ("learned" or "exact") at t over the exact tilted
        density, with its three scores at the probe: arrows with heads (drawn at least a
        readable length), each named at its tip."""
        t = p.t
        v = float(self.schedule.marginal(t)[1])
        logd = self.cm.guided_log_density(self.heat_cells, t, c, w, self.schedule)
        dens = np.exp(logd - logd.max()).reshape(S.HEAT_N, S.HEAT_N)
        layers: dict[str, Layer] = {"p_t(x) p_t(y|x)^w": Heatmap(dens, (*self.lim, *self.lim))}
        src = (self.trainer.guided_score(self.field_cells, t, c, w) if kind == "learned" else
               self.cm.guided_score(self.field_cells, t, c, w, self.schedule))
        self.check(src)
        layers["guided field"] = VectorField(self.field_cells, v * src, series=MUTED)
        probe = np.array([[p.probe_x, p.probe_y]])
        tips = probe + arrows[kind]
        for i, (series, short) in enumerate(SCORE_SERIES):
            layers[f"{kind} {short}"] = Arrows(probe, tips[i:i + 1], series=series,
                                               min_px=MIN_ARROW_PX)
        # a name sits at the tip as drawn: an arrow shorter than MIN_ARROW_PX is drawn that
        # long, about LABEL_REACH of the panel at a usual window size
        away = arrows[kind]
        norm = np.linalg.norm(away, axis=1, keepdims=True)
        reach = LABEL_REACH * (self.lim[1] - self.lim[0])
        ends = probe + away * np.maximum(1.0, reach / np.maximum(norm, 1e-12))
        for i, (series, short) in enumerate(SCORE_SERIES):
            layers[f"{short} name"] = Labels(ends[i:i + 1], (short,), series=series)
        layers["probe"] = Handles(probe, ("probe_x",), ("probe_y",), ("probe",))
        who = "learned" if kind == "learned" else "exact"
        return self._plane(layers, f"{who} guided field, t = {t:.2f}")

    def tradeoff_panel(self, p: Params, c: int, w: float,
                       now: dict[str, tuple[float, float]], upto: float = S.W_MAX) -> Panel:
        """Fidelity and spread against w over the grid computed so far up to ``upto`` (a
        sweep reveals the curves as it goes, though the sets ahead may be ready), both kinds,
        with the shown w marked; the y limit contains every curve."""
        layers: dict[str, Layer] = {}
        peak = 1.0
        for measure in (fidelity, spread):
            for kind in sorted(self.kinds, key=lambda k: k != "exact"):  # exact first
                ws, fid, spr = self.curve(kind, p, c)
                keep = ws <= upto + 1e-9
                ws, fid, spr = ws[keep], fid[keep], spr[keep]
                if len(ws) == 0:
                    continue
                y = fid if measure is fidelity else spr
                peak = max(peak, float(y.max()))
                layers[measure(kind)] = Curve(ws, y, series=measure(kind), width=2.5)
        for kind, (f, s) in now.items():
            peak = max(peak, s)
            layers[f"{kind} fidelity now"] = Points([[w, f]], series=fidelity(kind),
                                                    highlight=kind == "exact", size=0.8)
            layers[f"{kind} spread now"] = Points([[w, s]], series=spread(kind),
                                                  highlight=kind == "exact", size=0.8)
        self.top = max(self.top, math.ceil(1.08 * peak / TOP_STEP) * TOP_STEP)
        layers = {"w": Segments([[w, 0.0]], [[w, self.top]], series=MUTED), **layers}
        return Panel(layers, title="fidelity and spread against w", xlim=(0.0, S.W_MAX),
                     ylim=(0.0, self.top), equal_aspect=False, xlabel="guidance w",
                     ylabel="p(y|x₀); spread / class's")


def caption(lab: Lab, p: Params, c: int, w: float, lead: str,
            now: dict[str, tuple[float, float]], arrows: dict[str, np.ndarray]) -> str:
    y = lab.values[c]
    if w == 0:
        regime = "w = 0: the unconditional model, the class is ignored."
    elif w == 1:
        regime = "w = 1: the conditional model p(x | y)."
    elif w < 1:
        regime = "0 < w < 1: between unconditional and conditional."
    else:
        regime = W_ABOVE_ONE
    parts = [lead,
             f"Guided score ∇log p(x) + w[∇log p(x|y) − ∇log p(x)] = ∇log p(x) + w ∇log "
             f"p(y|x), class y = {y}, w = {w:.2f}; {regime}"]
    meas = ", ".join(f"{k} fidelity {f:.2f}, spread {signed(s, 2)}" for k, (f, s) in
                     now.items())
    if meas:
        parts.append(f"Samples: {meas} (fidelity: mean exact p(y|x₀); spread: their spread "
                     "within class y over the class's own).")
    if p.view == "fields":
        g = arrows["exact"]
        parts.append(f"Drag the probe: arrows v·score at t = {p.t:.2f} (exact ones point to "
                     f"a·E[x₀|x_t]): ∅ unconditional, y conditional, w guided = ∅ + w(y − ∅) "
                     f"(exact length {np.linalg.norm(g[2]):.2f}).  Heatmap: the exact "
                     "p_t(x) p_t(y|x)^w; grey arrows: the guided field.")
    else:
        parts.append("View 'fields' shows the guided score field and the three scores at a "
                     "probe you drag.")
    return "  ".join(parts)
