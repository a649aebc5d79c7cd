r"""Lab "guidance": classifier-free guidance in the plane (Ho & Salimans 2022).

Labelled 2D data (a gallery set with classes, or points drawn in several colours) are made a
Gaussian mixture per class (8gaussians: its exact components, one per class; other sets: K
components fitted by EM to each class, then sampled), so every score is also known exactly
(``genlab.engine.guidance``).  A conditional denoiser :math:`\hat\varepsilon(x, t, y)` trains
with label dropout (the null label ∅ a fraction ``p_uncond`` of the time), so one net gives
both the conditional and the unconditional prediction.  Sampling class y with weight w uses

.. math:: \nabla\log p_w(x\mid y) = \nabla\log p(x) + w[\nabla\log p(x\mid y) - \nabla\log p(x)]
          = \nabla\log p(x) + w\,\nabla\log p(y\mid x),

w = 0 the unconditional model, w = 1 the conditional one, w > 1 the tilted density
:math:`p(x)p(y\mid x)^w`: samples go where the class is surest (fidelity up) and bunch up
(diversity down).

Frames: the training (a preview of guided samples, the conditional and unconditional losses),
then a sweep of w over 0..10 that fills the fidelity/diversity panel, then the slider's w.
Panels: guided samples from the learned score and from the exact one (same noise, same
sampler, same steps), the guided field at noise level t over the tilted density with the
unconditional, conditional and guided scores at a probe the user drags, and fidelity (mean
exact p(y | x₀) of the samples) and diversity (their spread within class y over the class's
own) against w.  w, the class, t, the probe, the sampler and its steps are live: the samples
are recomputed (split over frames, last good ones kept on screen) without retraining.  The run
ends once the shown state is computed; the trained denoiser and the sample sets are kept
(one entry), so a change after the end restarts at once, without training again.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Generator
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from genlab.engine import diffusion as dif
from genlab.engine.guidance import ClassMixtures, class_mixtures, gallery_class_mixtures
from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext, sub_seed
from genlab.labs.data import data_or_message
from genlab.labs.frame import (
    Curve,
    Frame,
    Handles,
    Heatmap,
    Labels,
    Layer,
    Panel,
    Points,
    Segments,
    VectorField,
    message_frame,
)
from genlab.labs.params import Choice, Flag, Range, live_fields, take_live
from genlab.labs.plane import cells, signed

DATASETS = ("moons", "8gaussians", "circles", "2spirals", "pinwheel", "checkerboard",
            "swissroll", "drawn")
SCORES = ("learned + exact", "exact only")
SAMPLERS = ("DDIM", "DDPM")
VIEWS = ("samples", "fields")
W_GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0)
W_MAX = 10.0

T_MIN = 1e-3
N_FIT = 2000  # points drawn from a gallery set to fit the class mixtures to
N_TRAIN = 4000  # mixture samples the denoiser trains on
N_SHOW = 800  # training points drawn faintly behind the samples
MIN_DISTINCT = 5
HIDDEN, DEPTH, BATCH = 128, 3, 256
TRAIN_STEPS_PER_FRAME = 15
PREVIEW_N, PREVIEW_STEPS = 300, 12  # guided DDIM samples drawn while the denoiser trains
FIELD_N = 15  # arrows per side of the guided field
HEAT_N = 48  # cells per side of the tilted density
DIVERGED_LOSS = 25.0  # a net predicting ε̂ = 0 scores 1
HOLD = 2  # frames each w of the sweep stays on screen
# Estimated cost (ms) of one sampler step per point: exact per mixture component, learned
# per point (a guided step is one forward pass on 2n points).  Frames take work up to
# FRAME_BUDGET_MS of this estimate (an estimate, not a clock: the frames are the same on
# every machine).
EXACT_MS_PER_POINT_COMPONENT = 3e-5
LEARNED_MS_PER_POINT = 4e-3
FRAME_BUDGET_MS = 35.0
N_CACHED = 64  # sample sets kept (the sweep's grid and recent slider values)

_LEARNED: Any = ("score", ("learned + exact",))
_FITTED: Any = ("dataset", tuple(d for d in DATASETS if d != "8gaussians"))


@dataclass(frozen=True)
class Params:
    dataset: Annotated[str, Choice(
        DATASETS, "labelled data: each class is a Gaussian mixture (8gaussians: one cluster "
        "per class, exactly; other sets: K Gaussians fitted per class); drawn: your points, "
        "one class per paint colour")] = "moons"
    noise: Annotated[float, Range(
        0.0, 1.0, "how much the data set is blurred", step=0.01,
        when=("dataset", DATASETS[:-1]))] = 0.1
    n_components: Annotated[int, Range(
        1, 12, "Gaussians K fitted by EM to each class (the exact scores are those of this "
        "mixture)", when=_FITTED, label="components / class")] = 6
    label: Annotated[int, Range(
        0, 9, "the class y to sample (moved to the nearest class present)", live=True,
        label="class y")] = 0
    w: Annotated[float, Range(
        0.0, W_MAX, "guidance weight: 0 unconditional, 1 conditional, > 1 sharper p(y|x)^w",
        step=0.1, live=True, label="guidance w")] = 3.0
    view: Annotated[str, Choice(
        VIEWS, "samples: guided samples of class y, learned beside exact; fields: the guided "
        "score field at noise level t, learned beside exact, with the three scores at the "
        "probe", live=True)] = "samples"
    sweep: Annotated[bool, Flag(
        "sweep w from 0 to 10 when the run starts (filling the fidelity/diversity panel); "
        "moving w stops it", live=True, label="sweep w")] = True
    t: Annotated[float, Range(
        0.02, 1.0, "noise level t of the score fields (0 data, 1 noise)", step=0.01,
        live=True, label="field t")] = 0.3
    probe_x: Annotated[float, Range(
        -6.0, 6.0, "x of the probe where the three scores are drawn (drag it)", step=0.05,
        live=True, label="probe x")] = 2.0
    probe_y: Annotated[float, Range(
        -6.0, 6.0, "y of the probe where the three scores are drawn (drag it)", step=0.05,
        live=True, label="probe y")] = 0.5
    score: Annotated[str, Choice(
        SCORES, "learned + exact: train the conditional denoiser and show it beside the "
        "closed form; exact only: the closed-form scores, no training")] = "learned + exact"
    sampler: Annotated[str, Choice(
        SAMPLERS, "DDIM (deterministic, η = 0) or DDPM (ancestral, fresh noise each step)",
        live=True)] = "DDIM"
    n_steps: Annotated[int, Range(
        5, 200, "sampler steps from t = 1 to t ≈ 0", live=True, label="steps")] = 40
    n_samples: Annotated[int, Range(
        100, 2000, "samples drawn per guidance weight", step=100, label="samples")] = 500
    p_uncond: Annotated[float, Range(
        0.0, 1.0, "label dropout: share of training labels replaced by the null label ∅ (0: "
        "the unconditional model never trains)", step=0.01, when=_LEARNED,
        label="label dropout")] = 0.2
    train_steps: Annotated[int, Range(
        100, 20_000, "Adam steps training the denoiser", log=True, when=_LEARNED,
        label="training steps")] = 2000
    lr: Annotated[float, Range(
        1e-4, 1.0, "Adam's learning rate", log=True, when=_LEARNED,
        label="learning rate")] = 3e-3
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the data, the network, the batches and the sampler "
        "noise")] = 0


_LIVE = live_fields(Params)

# ------------------------------------------------------------------------------ set-up


def class_data(p: Params, ctx: RunContext) -> tuple[ClassMixtures, np.ndarray, str] | Frame:
    """The class mixtures, the label value of each class (C,) and a description; or a message
    frame (no drawn points, a single class)."""
    got = data_or_message(p.dataset, N_FIT, p.noise, p.seed, ctx, "Guidance", MIN_DISTINCT)
    if isinstance(got, Frame):
        return got
    x, labels = got
    values = np.unique(labels)
    if len(values) < 2:
        return message_frame(
            "Guidance · one class",
            "Guidance needs at least two classes: paint the points in two or more colours "
            "(the colour is the class), or choose a labelled data set.")
    if p.dataset == "8gaussians":
        return (gallery_class_mixtures("8gaussians", p.noise), np.arange(8),
                "the 8 gaussians (one exact component per class)")
    cm, values = class_mixtures(x, labels, p.n_components, seed=p.seed)
    src = "the drawn points" if p.dataset == "drawn" else p.dataset
    return cm, values, f"{p.n_components} Gaussians fitted to each class of {src}"


def class_index(values: np.ndarray, label: int) -> int:
    """Index of the class whose label value is nearest ``label`` (ties: the lower one)."""
    return int(np.argmin(np.abs(values - int(label)) * 2 + (values > label)))



@dataclass
class _Job:
    """One guided sampling run in progress: ``kind`` ("learned" or "exact"), class c,
    weight w, sampler and steps; x the current points, i the steps done."""

    key: tuple[Any, ...]
    ts: np.ndarray
    x: np.ndarray
    rng: np.random.Generator | None
    i: int = 0

    @property
    def kind(self) -> str:
        return str(self.key[0])

    @property
    def c(self) -> int:
        return int(self.key[1])

    @property
    def w(self) -> float:
        return float(self.key[2])

    @property
    def n_steps(self) -> int:
        return int(self.key[4])


class _Lab:
    """One run's data, scores, sample cache and pictures."""

    def __init__(self, p: Params, cm: ClassMixtures, values: np.ndarray, what: str) -> None:
        self.p = p
        self.cm = cm
        self.values = values
        self.what = what
        self.schedule = dif.VPSchedule("linear")
        self.trainer: Any = None  # set once the denoiser has trained
        self.kinds: tuple[str, ...] = ("exact",)
        self.x_T = np.random.default_rng(sub_seed(p.seed, 1)).standard_normal((p.n_samples, 2))
        self.x_train, self.c_train = cm.sample(N_TRAIN, seed=sub_seed(p.seed, 2))
        self.show = self.x_train[:N_SHOW]
        self.show_labels = values[self.c_train[:N_SHOW]]
        self.lim = self._limits()
        lo, hi = self.lim
        inner = hi * (1 - 1 / FIELD_N)
        self.field_cells = cells((-inner, inner), (-inner, inner), FIELD_N)
        self.heat_cells = cells(self.lim, self.lim, HEAT_N)
        self.samples: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
        self.last: dict[str, tuple[tuple[Any, ...], np.ndarray]] = {}
        self.jobs: dict[tuple[Any, ...], _Job] = {}
        self._measured: dict[tuple[Any, ...], tuple[float, float, np.ndarray]] = {}
        self.class_sd = [math.sqrt(float(np.trace(cm.class_covariance(c))))
                         for c in range(cm.n_classes)]
        n_comp = cm.unconditional().n_components
        self.exact_cost = [(n_comp + m.n_components) * EXACT_MS_PER_POINT_COMPONENT
                           for m in cm.mixtures]

    def _limits(self) -> tuple[float, float]:
        mix = self.cm.unconditional()
        sd = np.sqrt(np.linalg.eigvalsh(mix.covariances).max(axis=1))
        reach = float((np.abs(mix.means).max(axis=1) + 2.0 * sd).max())
        half = max(3.5, math.ceil(reach * 2.0) / 2.0)
        return (-half, half)

    # -- scores -----------------------------------------------------------------------------
    def score_fn(self, kind: str, c: int, w: float) -> dif.ScoreFn:
        if kind == "exact":
            return lambda x, t: self.cm.guided_score(x, t, c, w, self.schedule)
        return lambda x, t: self.trainer.guided_score(x, t, c, w)

    # -- sampling jobs ----------------------------------------------------------------------
    def key(self, kind: str, c: int, w: float, p: Params) -> tuple[Any, ...]:
        return (kind, c, round(float(w), 6), p.sampler, p.n_steps)

    def _new_job(self, key: tuple[Any, ...]) -> _Job:
        rng = (np.random.default_rng(sub_seed(self.p.seed, 3, key[4]))
               if key[3] == "DDPM" else None)
        _, v1 = self.schedule.marginal(1.0)
        return _Job(key, dif.time_grid(int(key[4]), T_MIN),
                    math.sqrt(float(v1)) * self.x_T, rng)

    def _cost(self, job: _Job) -> float:
        n = len(self.x_T)
        if job.kind == "exact":
            return n * self.exact_cost[job.c]
        return n * LEARNED_MS_PER_POINT

    def _advance(self, job: _Job, budget: float) -> float:
        """Take as many steps of ``job`` as fit in ``budget`` (at least one); the cost."""
        per = self._cost(job)
        k = max(1, min(job.n_steps - job.i, int(budget // per)))
        fn = self.score_fn(job.kind, job.c, job.w)
        for _ in range(k):
            t0, t1 = float(job.ts[job.i]), float(job.ts[job.i + 1])
            score = fn(job.x, t0)
            last = job.i == job.n_steps - 1
            if job.rng is None:
                job.x = dif.ddim_step(job.x, score, t0, t1, self.schedule)
            else:
                job.x = dif.ddpm_step(job.x, score, t0, t1, self.schedule,
                                      None if last else job.rng)
            job.i += 1
        if not np.isfinite(job.x).all():
            raise LabError(
                f"The {job.kind} guided samples became NaN or infinite (class "
                f"{self.values[job.c]}, w = {job.w:g}, {job.n_steps} {job.key[3]} steps): "
                "lower w or raise the steps"
                + (", or train the denoiser longer." if job.kind == "learned" else "."))
        if job.i >= job.n_steps:
            self.samples[job.key] = job.x
            self.samples.move_to_end(job.key)
            self._measured.pop(job.key, None)
            while len(self.samples) > N_CACHED:
                self._measured.pop(self.samples.popitem(last=False)[0], None)
            del self.jobs[job.key]
        return k * per

    def wanted(self, p: Params, c: int, w_show: float) -> list[tuple[Any, ...]]:
        """Sample sets still to compute, most urgent first: the shown w, then the grid."""
        out = [self.key(k, c, w_show, p) for k in self.kinds]
        out += [self.key(k, c, w, p) for w in W_GRID for k in self.kinds]
        return [k for k in dict.fromkeys(out) if k not in self.samples]

    def work(self, p: Params, c: int, w_show: float, budget: float = FRAME_BUDGET_MS) -> bool:
        """Spend about ``budget`` ms on the wanted sample sets; True if any work was done."""
        did = False
        for key in self.wanted(p, c, w_show):
            if budget <= 0:
                break
            job = self.jobs.get(key) or self.jobs.setdefault(key, self._new_job(key))
            budget -= self._advance(job, budget)
            did = True
        # jobs no longer wanted (another class, steps or sampler) are dropped
        keep = set(self.wanted(p, c, w_show))
        for key in [k for k in self.jobs if k not in keep]:
            del self.jobs[key]
        return did

    def shown(self, kind: str, p: Params, c: int, w: float
              ) -> tuple[np.ndarray | None, bool]:
        """The samples to draw for (kind, c, w) and whether they are those (False: the last
        good set while the new one is computed)."""
        key = self.key(kind, c, w, p)
        if key in self.samples:
            self.last[kind] = (key, self.samples[key])
            return self.samples[key], True
        got = self.last.get(kind)
        return (None if got is None else got[1]), False

    # -- measures ---------------------------------------------------------------------------
    def measures(self, x: np.ndarray, c: int) -> tuple[float, float, np.ndarray]:
        """(fidelity, spread, class of each sample): fidelity = mean exact p(y | x₀) at
        t ≈ 0; spread = √tr Cov of the samples weighted by p(y | x₀), over the class's own."""
        logp = self.cm.classifier_log_probs(x, T_MIN, self.schedule)
        r = np.exp(logp[:, c])
        fid = float(r.mean())
        if r.sum() < 2.0:
            return fid, 0.0, np.argmax(logp, axis=1)
        m = (r[:, None] * x).sum(0) / r.sum()
        var = float((r * ((x - m) ** 2).sum(1)).sum() / r.sum())
        return fid, math.sqrt(var) / max(self.class_sd[c], 1e-9), np.argmax(logp, axis=1)

    def measures_of(self, key: tuple[Any, ...]) -> tuple[float, float, np.ndarray]:
        """:meth:`measures` of a finished sample set, computed once."""
        if key not in self._measured:
            self._measured[key] = self.measures(self.samples[key], int(key[1]))
        return self._measured[key]

    def curve(self, kind: str, p: Params, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(w, fidelity, spread) over the grid values computed so far."""
        rows = [(w, *self.measures_of(self.key(kind, c, w, p))[:2])
                for w in W_GRID if self.key(kind, c, w, p) in self.samples]
        if not rows:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        a = np.array(rows)
        return a[:, 0], a[:, 1], a[:, 2]

    # -- panels -----------------------------------------------------------------------------
    def _plane(self, layers: dict[str, Layer], title: str) -> Panel:
        return Panel(layers, title=title, xlim=self.lim, ylim=self.lim, xlabel="x₁",
                     ylabel="x₂", link="plane")

    def _backdrop(self) -> Points:
        return Points(self.show, labels=self.show_labels, size=0.45, alpha=0.18)

    def sample_panel(self, kind: str, x: np.ndarray | None, current: bool, c: int,
                     w: float) -> Panel:
        layers: dict[str, Layer] = {"data": self._backdrop()}
        if x is not None:
            _, _, cls = self.measures(x, c)
            layers["samples"] = Points(x, labels=self.values[cls], size=0.75, alpha=0.9)
        who = "learned ε̂(x, t, y)" if kind == "learned" else "exact scores"
        state = "" if current else " (sampling…)"
        return self._plane(layers, f"{who}: class {self.values[c]}, w = {w:.1f}{state}")

    def preview_panel(self, preview: np.ndarray, c: int, w: float, done: int) -> Panel:
        _, _, cls = self.measures(preview, c)
        return self._plane({"data": self._backdrop(),
                            "samples": Points(preview, labels=self.values[cls], size=0.75)},
                           f"training, step {done}: class {self.values[c]}, w = {w:.1f}")

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
        self._check(*arrows.values())
        return arrows

    def field_panel(self, kind: str, p: Params, c: int, w: float,
                    arrows: dict[str, np.ndarray]) -> Panel:
        """The guided field of ``kind`` ("learned" or "exact") at t over the exact tilted
        density, with its three scores at the probe."""
        t = p.t
        v = float(self.schedule.marginal(t)[1])
        logd = self.cm.guided_log_density(self.heat_cells, t, c, w, self.schedule)
        dens = np.exp(logd - logd.max()).reshape(HEAT_N, HEAT_N)
        layers: dict[str, Layer] = {"p_t(x) p_t(y|x)^w": Heatmap(dens, (*self.lim, *self.lim))}
        src = (self.trainer.guided_score(self.field_cells, t, c, w) if kind == "learned" else
               self.cm.guided_score(self.field_cells, t, c, w, self.schedule))
        self._check(src)
        layers["guided field"] = VectorField(self.field_cells, v * src, series=0)
        probe = np.array([[p.probe_x, p.probe_y]])
        tips = probe + arrows[kind]
        starts = np.repeat(probe, 3, 0)
        for i, (name, series) in enumerate((("∅", 7), ("y", 2), ("w", 3))):
            layers[f"{kind} {name}"] = Segments(starts[i:i + 1], tips[i:i + 1], series=series)
        layers["tips"] = Points(tips, labels=np.array([7, 2, 3]), size=0.8)
        away = tips - probe
        norm = np.maximum(np.linalg.norm(away, axis=1, keepdims=True), 1e-9)
        layers["names"] = Labels(tips + 0.07 * (self.lim[1] - self.lim[0]) * away / norm,
                                 ("∅", "y", "w"), series=-1)
        layers["probe"] = Handles(probe, ("probe_x",), ("probe_y",), ("probe",), series=-1)
        who = "learned" if kind == "learned" else "exact"
        return self._plane(layers, f"{who} guided field, t = {t:.2f}")

    def tradeoff_panel(self, p: Params, c: int, w: float,
                       now: dict[str, tuple[float, float]]) -> Panel:
        layers: dict[str, Layer] = {}
        tops = [1.25]
        for kind in self.kinds:
            ws, fid, spread = self.curve(kind, p, c)
            if len(ws) == 0:
                continue
            dashed = kind == "learned"
            tops.append(float(spread.max()) * 1.1)
            layers[f"{kind} fidelity"] = Curve(ws, fid, series=2, width=2.5, dashed=dashed)
            layers[f"{kind} spread"] = Curve(ws, spread, series=4, width=2.5, dashed=dashed)
        top = min(max(tops), 3.0)
        layers["w"] = Segments([[w, 0.0]], [[w, top]], series=7)
        for kind, (f, s) in now.items():
            layers[f"{kind} now"] = Points([[w, f], [w, min(s, top)]], labels=np.array([2, 4]),
                                           highlight=kind == "exact", size=0.8)
        layers["fidelity name"] = Labels([[6.0, 0.93 * top]], ("fidelity p(y|x₀)",), series=2)
        layers["spread name"] = Labels([[6.0, 0.85 * top]], ("spread / class's",), series=4)
        if "learned" in self.kinds:
            layers["legend"] = Labels([[5.0, 0.06 * top]], ("solid: exact, dashed: learned",),
                                      series=-1)
        return Panel(layers, title="fidelity vs diversity", xlim=(0.0, W_MAX),
                     ylim=(0.0, top), equal_aspect=False, xlabel="guidance w",
                     ylabel="fidelity, spread")

    def _check(self, *arrays: np.ndarray) -> None:
        for a in arrays:
            if not np.isfinite(a).all():
                raise LabError("The denoiser's output is not finite: lower the learning rate "
                               "or train again.")


# ------------------------------------------------------------------------------ training


def _train(lab: _Lab, ctx: RunContext, box: list[Params]) -> Generator[Frame, Any, int]:
    """Frames of the conditional denoiser's training with label dropout; sets
    ``lab.trainer`` and returns the number of frames yielded."""
    from genlab.engine.denoiser import Denoiser, DenoiserTrainer
    from genlab.engine.device import resolve

    p = lab.p
    model = Denoiser(HIDDEN, DEPTH, seed=p.seed, n_classes=lab.cm.n_classes).to(
        resolve(ctx.device))
    trainer = DenoiserTrainer(model, lab.x_train, lab.schedule, lr=p.lr, batch_size=BATCH,
                              seed=p.seed, t_min=T_MIN, labels=lab.c_train,
                              p_uncond=p.p_uncond)
    z = np.random.default_rng(sub_seed(p.seed, 4)).standard_normal((PREVIEW_N, 2))
    done = frame_no = 0
    while True:
        q = box[0]
        c = class_index(lab.values, q.label)
        loss_c = trainer.loss(2048, p_uncond=0.0)
        loss_u = trainer.loss(2048, p_uncond=1.0)
        for name, value in (("conditional", loss_c), ("unconditional", loss_u)):
            if not math.isfinite(value) or value > DIVERGED_LOSS:
                raise LabError(f"The denoiser diverged at step {done} (its {name} loss is "
                               f"{value:.3g}): lower the learning rate (now {p.lr:g}).")
        preview = dif.ddim_sample(lambda x, t, c=c, w=q.w: trainer.guided_score(x, t, c, w), z,
                                  lab.schedule, PREVIEW_STEPS, T_MIN)[-1]
        if not np.isfinite(preview).all():
            raise LabError(f"The denoiser's samples became NaN at step {done}: lower the "
                           f"learning rate (now {p.lr:g}).")
        lab.work(q, c, q.w, budget=10.0)  # the exact samples, meanwhile
        x_ex, cur = lab.shown("exact", q, c, q.w)
        panels = (lab.preview_panel(preview, c, q.w, done),
                  lab.sample_panel("exact", x_ex, cur, c, q.w))
        caption = (f"Training ε̂(x, t, y) on {N_TRAIN} samples of {lab.what}: Adam step "
                   f"{done} / {p.train_steps} on ‖ε̂(a x₀ + √v ε, t, y) − ε‖², with y "
                   f"replaced by the null label ∅ {p.p_uncond:.0%} of the time (label "
                   f"dropout), so one net learns p(x | y) and p(x).  Loss: conditional "
                   f"{loss_c:.3f}, unconditional {loss_u:.3f}.  Left: {PREVIEW_N} guided "
                   f"DDIM samples ({PREVIEW_STEPS} steps) from the net as it is; right: the "
                   "exact guided samples.")
        new = yield Frame(step=frame_no, total=None,
                          title=f"Guidance · training · step {done} / {p.train_steps}",
                          panels=panels,
                          metrics={"loss/conditional (y)": loss_c,
                                   "loss/unconditional (∅)": loss_u},
                          caption=caption)
        if new is not None:
            box[0] = take_live(box[0], new, _LIVE)
        frame_no += 1
        if done >= p.train_steps:
            break
        losses = trainer.step(min(TRAIN_STEPS_PER_FRAME, p.train_steps - done))
        if len(losses) and not np.isfinite(losses).all():
            raise LabError(f"The denoiser's loss became NaN at step {done + len(losses)}: "
                           f"lower the learning rate (now {p.lr:g}).")
        done += len(losses)
    lab.trainer = trainer
    lab.kinds = ("learned", "exact")
    return frame_no


# ------------------------------------------------------------------------------ the run


def _caption(lab: _Lab, p: Params, c: int, w: float, lead: str,
             now: dict[str, tuple[float, float]], arrows: dict[str, np.ndarray]) -> str:
    y = lab.values[c]
    if w == 0:
        regime = "w = 0: the unconditional model, the class is ignored."
    elif w == 1:
        regime = "w = 1: the conditional model p(x | y)."
    elif w < 1:
        regime = "0 < w < 1: between unconditional and conditional."
    else:
        regime = "w > 1 sharpens p(y | x)^w: fidelity up, diversity down."
    parts = [lead,
             f"Guided score ∇log p(x) + w[∇log p(x|y) − ∇log p(x)] = ∇log p(x) + w ∇log "
             f"p(y|x), class y = {y}, w = {w:.1f}; {regime}"]
    meas = ", ".join(f"{k} fidelity {f:.2f}, spread {signed(s, 2)}" for k, (f, s) in
                     now.items())
    if meas:
        parts.append(f"Samples: {meas}.")
    if p.view == "fields":
        g = arrows["exact"]
        parts.append(f"Drag the probe: arrows v·score at t = {p.t:.2f} (exact ones point to "
                     f"a·E[x₀|x_t]): ∅ unconditional, y conditional, w guided = ∅ + w(y − ∅) "
                     f"(exact length {np.linalg.norm(g[2]):.2f}).  Heatmap: the exact "
                     "p_t(x) p_t(y|x)^w.")
    else:
        parts.append("View 'fields' shows the guided score field and the three scores at a "
                     "probe you drag.")
    return "  ".join(parts)


_CACHE: dict[tuple[Any, ...], _Lab] = {}


def clear_cache() -> None:
    """Forget the trained denoiser and the sample sets kept from the last run."""
    _CACHE.clear()


def _cache_key(p: Params, ctx: RunContext) -> tuple[Any, ...]:
    from genlab.engine.device import resolve  # imports torch

    drawn = b""
    if p.dataset == "drawn" and ctx.drawn is not None:
        drawn = np.asarray(ctx.drawn, dtype=np.float64).tobytes() + (
            b"" if ctx.drawn_labels is None else np.asarray(ctx.drawn_labels).tobytes())
    return (p.dataset, p.noise, p.n_components, p.score, p.p_uncond, p.train_steps, p.lr,
            p.n_samples, p.seed, resolve(ctx.device), drawn)


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames: the denoiser's training, the sweep of w, then the slider's w until every
    sample set it needs is computed.  The trained denoiser and the sample sets are kept for
    the next run with the same data and training settings: a change after the end (which
    restarts the run) then shows at once, without training or sweeping again."""
    p = params
    key = _cache_key(p, ctx)
    lab = _CACHE.get(key)
    box = [p]
    step = 0
    reused = lab is not None
    if lab is None:
        # (a kept lab came from the same data, so only a new one fits the class mixtures)
        got = class_data(p, ctx)
        if isinstance(got, Frame):
            yield got
            return
        cm, values, what = got
        lab = _Lab(p, cm, values, what)
        if p.score == "learned + exact":
            step = yield from _train(lab, ctx, box)
            _CACHE.clear()
            _CACHE[key] = lab
    lab.p = p = box[0]
    i_sweep, held = 0, 0
    manual = reused or not p.sweep or p.w != params.w
    while True:
        c = class_index(lab.values, p.label)
        sweeping = p.sweep and not manual and i_sweep < len(W_GRID)
        w = W_GRID[i_sweep] if sweeping else p.w
        lab.work(p, c, w)
        xs = {k: lab.shown(k, p, c, w) for k in lab.kinds}
        if sweeping and all(cur for _, cur in xs.values()):
            held += 1
            if held >= HOLD:
                i_sweep, held = i_sweep + 1, 0
        now = {k: lab.measures(x, c)[:2] for k, (x, cur) in xs.items()
               if x is not None and cur}
        arrows = lab.probe_arrows(p, c, w)
        if p.view == "fields":
            panels = tuple(lab.field_panel(k, p, c, w, arrows) for k in lab.kinds)
        else:
            panels = tuple(lab.sample_panel(k, xs[k][0], xs[k][1], c, w) for k in lab.kinds)
        panels += (lab.tradeoff_panel(p, c, w, now),)
        left = len(lab.wanted(p, c, w))
        finished = not sweeping and left == 0
        if sweeping:
            lead = f"Sweeping w: {w:.1f}."
        elif left:
            lead = f"Sampling ({left} sample sets to go)."
        else:
            lead = ("Done: move w, the class, t or the probe (the trained denoiser and the "
                    "samples are kept).")
        metrics: dict[str, float] = {}
        for k, (f, s) in now.items():
            metrics[f"fidelity/{k}"] = f
            metrics[f"spread/{k}"] = s
        new = yield Frame(step=step, total=None,
                          title=f"Guidance · class {lab.values[c]} · w = {w:.1f} · "
                                f"{p.sampler} {p.n_steps} steps",
                          panels=panels, metrics=metrics,
                          caption=_caption(lab, p, c, w, lead, now, arrows))
        step += 1
        old = p
        lab.p = p = take_live(p, new, _LIVE)
        if p != old:
            if p.w != old.w or (old.sweep and not p.sweep):
                manual = True
            if p.sweep and not old.sweep:
                manual, i_sweep, held = False, 0, 0
        elif finished:
            _CACHE.clear()
            _CACHE[key] = lab
            return


LAB = LabInfo(
    name="guidance",
    title="Classifier-free guidance",
    description="A conditional denoiser trained with label dropout on labelled 2D data; "
                "guided samples of one class as the weight w goes from 0 to 10 (fidelity "
                "traded for diversity), beside the exact guided score of per-class "
                "Gaussian mixtures, with the three scores at a probe you drag.",
    params=Params,
    run=run,
    takes_data=True,
)
