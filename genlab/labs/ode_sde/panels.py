"""The pictures of a run: one panel per sampler, the distance against the number of steps,
the frame that holds them, and the frames of the denoiser's training."""

from __future__ import annotations

import math

import numpy as np

from genlab.labs.frame import (
    INK,
    MUTED,
    Curve,
    Frame,
    Handles,
    Heatmap,
    Layer,
    Panel,
    Paths,
    Points,
    Segments,
)
from genlab.labs.ode_sde import settings as S
from genlab.labs.ode_sde.lab import Lab
from genlab.labs.ode_sde.settings import FLOOR, HOW, LABEL, SERIES, TITLE, Params
from genlab.labs.plane import signed

STEP_UNIT = "reverse step (t from 1 to 0)"


def bars_group(n_steps: int) -> str:
    return f"sliced W₂ to the target, N = {n_steps}"


def error_group(n_steps: int) -> str:
    return f"endpoint error to a {S.REF_STEPS}-step Heun solve, N = {n_steps}"


class Pictures(Lab):
    """A run's samplers, drawn."""

    def method_panel(self, m: str, k: int, integrated: bool) -> Panel:
        lim = self.lim
        traj = self.traj[m]
        labels = self.labels.get(m)
        layers: dict[str, Layer] = {
            "p_t": Heatmap(self.density(k), (*lim, *lim), contours=5),
        }
        if integrated and k > 0:
            n = S.TRAILS[m]
            rows = np.unique(np.linspace(0, k, min(k + 1, S.TRAIL_ROWS)).astype(int))
            layers["trails"] = Paths(traj[rows, :n],
                                     labels=None if labels is None else labels[:n],
                                     fade=True, alpha=S.TRAIL_ALPHA[m])
        # before the end modes are known the cloud is plain ink; then each particle takes
        # the colour of the target component it ends in
        layers["particles"] = Points(traj[k], labels=labels, size=0.55, alpha=0.7)
        if m in self.highlight:
            path = self.highlight[m]
            n_runs = path.shape[1]
            runs = n_runs > 1
            # several SDE runs: fewer rows, fainter the more runs overlap, their older parts
            # fading, so they do not bury the start in a dark tangle
            rows = np.unique(np.linspace(0, k, min(k + 1, S.TRAIL_ROWS if runs else
                                                   S.PATH_ROWS)).astype(int))
            alpha = S.RUNS_ALPHA * min(1.0, math.sqrt(S.RUNS_FAINT_FROM / n_runs))
            layers["start paths"] = Paths(path[rows], series=INK,
                                          alpha=alpha if runs else 0.9, fade=runs)
            layers["start now"] = Points(path[k], series=INK, highlight=True, size=0.8)
        layers["start"] = Handles(np.array([[self.p.start_x, self.p.start_y]]), ("start_x",),
                                  ("start_y",), texts=("start",))
        # linked canvases: zooming into one sampler's panel zooms the others the same way
        return Panel(layers, title=TITLE[m], xlim=lim, ylim=lim, xlabel="x₁", ylabel="x₂",
                     link="samplers")

    def distance_panel(self) -> Panel:
        xs = np.log2(np.array(self.dist_steps, dtype=np.float64))
        x_lim = (0.5, float(max(xs.max(), 7.0)) + 0.5)
        top = 1.25 * max(self.prior, 2.0 * self.floor, 1e-3)
        xn = math.log2(self.N)
        layers: dict[str, Layer] = {
            "current N": Segments(np.array([[xn, 0.0]]), np.array([[xn, top]]),
                                  weights=np.array([0.5]), series=MUTED)}
        for m in self.methods:
            done = [(math.log2(s), self.dist[(m, s)]) for s in self.dist_steps
                    if (m, s) in self.dist]
            if not done:
                continue
            x, y = np.array(done).T
            y = np.minimum(y, 0.97 * top)  # an exploding sampler is drawn at the top edge
            name = LABEL[m]
            layers[f"{m} curve"] = Curve(x, y, series=name, width=2.0)
            layers[f"{m} dots"] = Points(np.column_stack([x, y]), series=name, size=0.6)
            if (m, self.N) in self.dist:
                layers[f"{m} now"] = Points(
                    np.array([[xn, min(self.dist[(m, self.N)], 0.97 * top)]]),
                    series=name, highlight=True)
        layers["floor"] = Curve(np.array(x_lim), np.full(2, self.floor), series=FLOOR,
                                width=1.5)
        lo, hi = self.dist_steps[0], self.dist_steps[-1]
        return Panel(layers, title="sliced W₂ to the target", xlim=x_lim, ylim=(0.0, top),
                     equal_aspect=False, xlabel=f"log₂ N (N = {lo} … {hi} steps)",
                     ylabel="sliced W₂")

    def values(self) -> dict[str, float]:
        got = self.at_n()
        if got is None:
            return {}
        group = bars_group(self.N)
        out = {f"{group}/{name}": v for name, v in got.items()}
        out[f"{group}/{FLOOR}"] = self.floor
        err = error_group(self.N)
        out.update({f"{err}/{LABEL[m]}": v for m, v in self.end_error.items()})
        return out

    def caption(self, k: int, integrated: bool, lead: str) -> str:
        how = " ".join(HOW[m] for m in dict.fromkeys(
            "ode" if m in ("euler", "heun") else m for m in self.methods))
        colours = ("Colours: the target component each particle ends in; contours: p_t at "
                   "this t. " if integrated else "")
        if "sde" in self.methods:
            start = (f"The ringed start (drag it) has one ODE end; its {self.p.n_sde_runs} SDE "
                     "runs end apart. ")
        else:
            start = "The ringed start (drag it) follows one deterministic path per method. "
        dist = ""
        got = self.at_n()
        if got is not None:
            parts = ", ".join(f"{name} {signed(v, 2)}" for name, v in got.items())
            # the floor's spread says how far one run's distance may fall either side of it
            dist = (f"Sliced W₂ to the target at N = {self.N}: {parts} ({FLOOR}: "
                    f"{signed(self.floor, 2)} ± {signed(self.floor_sd, 2)} over "
                    f"{S.FLOOR_DRAWS} pairs).")
            if self.end_error:
                errs = ", ".join(f"{LABEL[m]} {signed(v, 3)}" for m, v in self.end_error.items())
                dist += (f" Mean endpoint distance to a {S.REF_STEPS}-step Heun solve from the "
                         f"same noise: {errs}.")
        return (lead + how + " " + colours + start + dist).strip()

    def frame(self, step: int, total: int, k: int, integrated: bool, lead: str,
              track: bool = False, pace: float = 1.0, hold: float = 0.0) -> Frame:
        """The samplers at step k; ``track``: plot their distance to p_t at this step."""
        panels = [self.method_panel(m, k, integrated) for m in self.methods]
        panels.append(self.distance_panel())
        t = float(self.ts[k])
        title = f"ODE vs SDE · {self.p.score} score · step {k}/{self.N}, t = {t:.2f}"
        metrics = ({f"{S.TRACK}/{name}": v for name, v in self.track(k).items()}
                   if track else {})
        return Frame(step=step, total=total, title=title, panels=tuple(panels),
                     metrics=metrics, values=self.values(),
                     caption=self.caption(k, integrated, lead), series=SERIES, x=k,
                     xlabel=STEP_UNIT, pace=pace, hold=hold)


def training_frame(step: int, total: int, lab: Lab, x_train: np.ndarray,
                   preview: np.ndarray, done: int, p: Params, loss: float,
                   pace: float = 1.0) -> Frame:
    lim = lab.lim
    layers: dict[str, Layer] = {
        "p_0": Heatmap(lab.density(lab.N), (*lim, *lim), contours=5),
        "training points": Points(x_train[:600], series=MUTED, size=0.45, alpha=0.5),
        "DDIM samples": Points(preview, series=LABEL["ddim"], size=0.55, alpha=0.8),
    }
    panel = Panel(layers, title="training the denoiser ε_θ(x, t)", xlim=lim, ylim=lim,
                  xlabel="x₁", ylabel="x₂")
    caption = (f"Training the denoiser on {S.N_TRAIN} samples of {lab.what}: Adam step {done} "
               f"/ {p.train_steps} on ½‖ε_θ(a x₀ + √v ε, t) − ε‖² (on fixed draws: "
               f"{signed(loss)}); its score is −ε_θ/√v.  In the DDIM colour: {S.PREVIEW_N} "
               f"DDIM samples ({S.PREVIEW_STEPS} steps) from the denoiser as it is; grey: the "
               "training points.")
    return Frame(step=step, total=total,
                 title=f"ODE vs SDE · training the denoiser · step {done} / {p.train_steps}",
                 panels=(panel,), metrics={S.LOSS: loss}, caption=caption, series=SERIES,
                 x=done, xlabel="training step", pace=pace)
