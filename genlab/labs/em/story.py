"""An EM run as frames: the start, an E-step and an M-step frame per iteration, fast
forwards where the fit barely moves, and Adam beside EM (then alone) when asked."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from genlab.engine import gmm
from genlab.labs.base import FrameGenerator, LabError, RunContext
from genlab.labs.data import lab_data
from genlab.labs.em import pacing as pc
from genlab.labs.em import text
from genlab.labs.em.params import OVERFIT_K, Params
from genlab.labs.em.view import SERIES, SOFT_LABEL_LIMIT, Grid, colours, layers, limits
from genlab.labs.frame import Frame, Panel, Points, message_frame


def _start(params: Params, ctx: RunContext) -> Any:
    """(x, picks, means0, init text), or a message Frame when the run cannot start."""
    try:
        x, _ = lab_data(params.dataset, params.n_points, params.noise, params.seed, ctx)
    except LabError as e:
        return message_frame("EM · no data", str(e))
    x = np.ascontiguousarray(x, dtype=np.float64)
    x.setflags(write=False)
    if params.init == "clicked":
        if ctx.picks is None or len(ctx.picks) == 0:
            return message_frame(
                "EM · place the initial means",
                "init = clicked: choose the Place tool and click where the initial means "
                "should go (one click per component), then run again.")
        picks = np.asarray(ctx.picks, dtype=np.float64).reshape(-1, 2)
        return x, picks, picks, f"at the {len(picks)} points you clicked"
    k = OVERFIT_K if params.overfit else params.k
    means0 = gmm.init_means(x, k, params.init, params.seed)
    init_text = ("by k-means++ (each next mean drawn with probability ∝ its squared "
                 "distance to the means already chosen)" if params.init == "k-means++"
                 else "at random data points")
    return x, None, means0, init_text


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of an EM run: the start, then an E-step and an M-step frame per iteration (one
    frame per iteration of Adam alone once EM has converged beside it), or one frame for
    several iterations in a fast forward."""
    start = _start(params, ctx)
    if isinstance(start, Frame):
        yield start
        return
    x, picks, means0, init_text = start
    n, k = len(x), len(means0)
    reg, cov_type, n_iter = params.reg_covar, params.covariance, params.n_iter
    total = 1 + 2 * n_iter  # at most: a run ends once it has converged
    xlim, ylim = limits(x, picks)
    grid = Grid(xlim, ylim)
    n_distinct = len(np.unique(x, axis=0))
    compare = params.compare_adam
    if compare:
        xlabel = (f"iteration: one EM step or {params.adam_steps_per_iter} Adam steps "
                  "(E-step at the half)")
    else:
        xlabel = "EM iteration (E-step at the half)"

    state = state0 = gmm.initial_state(x, means0, reg, cov_type)
    plain = Points(x)
    adam: Any = None
    adam_state = state

    # an E-step frame shows the state of the M-step before it: its density (and Adam's
    # colours) are computed once per state
    densities: dict[str, tuple[gmm.GMMState, np.ndarray]] = {}
    adam_view: list[Any] = [state0, plain]  # Adam's state, its data in its own colours

    def density(panel: str, s: gmm.GMMState) -> np.ndarray:
        if panel not in densities or densities[panel][0] is not s:
            densities[panel] = (s, grid.density(s))
        return densities[panel][1]

    def adam_data() -> Points:
        if adam_view[0] is not adam_state:
            r, _ = gmm.e_step(x, adam_state.weights, adam_state.means, adam_state.covariances)
            adam_view[:] = [adam_state, Points(x, **colours(r))]
        return adam_view[1]

    def frame(step: int, it: float, title: str, caption: str, em_data: Points,
              pace: float, hold: float = 0.0) -> Frame:
        mode = params.density
        panels = [Panel(layers(density("EM", state), grid, mode, em_data, state, "EM"),
                        title=f"EM ({cov_type} covariances)", xlim=xlim, ylim=ylim,
                        legend=compare or None)]
        metrics = {"mean log-likelihood/EM": state.log_likelihood}
        if compare:
            panels.append(Panel(layers(density("Adam", adam_state), grid, mode, adam_data(),
                                       adam_state, "Adam"),
                                title="Gradient ascent (Adam)", xlim=xlim, ylim=ylim,
                                legend=True))
            metrics["mean log-likelihood/Adam"] = adam_state.log_likelihood
        return Frame(step=step, title=title, panels=tuple(panels), total=total,
                     metrics=metrics, caption=caption, series=SERIES, x=it, xlabel=xlabel,
                     pace=pace, hold=hold)

    def take(new: Any) -> None:
        nonlocal params
        if new is None:
            return
        params = replace(params, density=new.density, adam_lr=new.adam_lr)
        if adam is not None:
            adam.lr = params.adam_lr

    cov_text = {"full": "the data's covariance", "diag": "the data's variances (diagonal)",
                "spherical": "the data's mean variance (circles)"}[cov_type]
    caption = (f"Start: K = {k} means placed {init_text}, equal weights π_k = 1/{k} and every "
               f"covariance set to {cov_text}; mean log-likelihood "
               f"{text.fmt(state.log_likelihood)}.")
    take((yield frame(0, 0, f"EM · start · K = {k}", text.join(
        caption, text.start_notes(k, n, n_distinct, reg)), plain, 1.0, pc.HOLD_START)))

    if compare:
        from genlab.engine.gmm_grad import GradientGMM

        adam = GradientGMM(x, state.weights, state.means, state.covariances, lr=params.adam_lr,
                           seed=params.seed, device=ctx.device, reg_covar=reg)

    resp, _ = gmm.e_step(x, state.weights, state.means, state.covariances)
    hard = resp.size > SOFT_LABEL_LIMIT
    colour_text = ("each point takes the colour of the component with the largest "
                   "responsibility" if hard else
                   "each point takes the colours of the components in proportion to its "
                   "responsibility")
    hard_text = " (n·K is too large to mix colours)" if hard else ""
    width = xlim[1] - xlim[0]
    em_settle, adam_settle = pc.Settle(width), pc.Settle(width)
    em_done = 0  # the iteration at which EM converged (it then stays put while Adam goes on)
    adam_done = not compare
    adam_trace: list[tuple[int, float]] = []  # (Adam steps, its log-likelihood)

    def em_iteration(it: int) -> tuple[float, str]:
        """One M-step and the E-step after it; (gain, a sentence if EM has converged)."""
        nonlocal state, resp, em_done
        old = state
        w, m, c = gmm.m_step(x, resp, reg, cov_type, previous=(state.means, state.covariances))
        resp, ll = gmm.e_step(x, w, m, c)
        state = gmm.GMMState(w, m, c, ll)
        gain = ll - old.log_likelihood
        settled = em_settle.add(old, state)
        if not (gain < pc.CONVERGED_GAIN or settled):
            return gain, ""
        em_done = it
        if settled and gain >= pc.CONVERGED_GAIN:
            return gain, em_settle.sentence("EM")
        return gain, ("EM has converged (the log-likelihood gained less than "
                      f"{pc.CONVERGED_GAIN:.0e})")

    def adam_iteration() -> str:
        """Adam's steps of one iteration; a sentence if Adam has converged."""
        nonlocal adam_state, adam_done
        old = adam_state
        adam_state = adam.step(params.adam_steps_per_iter)
        if not (np.isfinite(adam_state.log_likelihood) and np.isfinite(adam_state.means).all()
                and np.isfinite(adam_state.covariances).all()):
            raise LabError("Gradient ascent diverged: lower the Adam step size.")
        adam_trace.append((adam.n_steps_, adam_state.log_likelihood))
        settled = adam_settle.add(old, adam_state)
        exact = abs(adam_state.log_likelihood - old.log_likelihood) < pc.CONVERGED_GAIN
        if not (exact or settled):
            return ""
        adam_done = True
        return (f"Adam has converged (its log-likelihood changed by less than "
                f"{pc.CONVERGED_GAIN:.0e})" if exact else adam_settle.sentence("Adam"))

    def quiet_run() -> int:
        """Quiet iterations in a row of the fits still running."""
        runs = [s.quiet_run for s, done in ((em_settle, em_done), (adam_settle, adam_done))
                if not done]
        return min(runs) if runs else 0

    def ends(em_note: str, adam_note: str, em_was_done: int, it: int) -> list[str]:
        """The sentences about fits that converged at this frame, and about the run's end."""
        out = []
        if adam_note:
            out.append(adam_note + (", while EM goes on." if not em_done else
                                    "." if em_note else ", so the run ends here."))
        if em_note:
            out.append(em_note + (", so it stops here while Adam goes on." if not adam_done
                                  else ", so the run ends here."))
        if em_was_done and not em_note and adam_trace:  # Adam alone: the race so far
            out.insert(0, text.race(em_was_done, state.log_likelihood, adam_trace))
        if it == n_iter and not (em_done and adam_done):
            out.append(f"The run has reached its {n_iter} iterations before "
                       + ("EM" if not em_done else "Adam")
                       + " converged: raise 'iterations' to go on.")
        return out

    step, it, ff = 0, 0, 0
    data = plain
    while not (em_done and adam_done) and it < n_iter:
        first, em_was_done = it + 1, em_done
        ll0, adam_ll0 = state.log_likelihood, adam_state.log_likelihood
        em_note = adam_note = ""
        notes: list[str] = []
        if ff == 0:  # ---- one iteration: an E-step and an M-step frame (or Adam alone)
            it = first
            title = f"EM · iteration {it} / {n_iter}"
            pace, hold = pc.pace_of(it), pc.FIRST_HOLD if it == 1 else 0.0
            if not em_done:
                data = Points(x, **colours(resp))
                caption = (f"E-step: {colour_text} γ_ik = π_k N(x_i | μ_k, Σ_k) / Σ_j π_j "
                           f"N(x_i | μ_j, Σ_j){hard_text}; the ellipses are still the old "
                           f"parameters (mean log-likelihood {text.fmt(ll0)}).")
                step += 1
                take((yield frame(step, it - 0.5, f"{title} · E-step", caption, data, pace,
                                  hold)))
                gain, em_note = em_iteration(it)
                trend = ("EM never lowers it" if gain >= 0 else
                         f"a dip of {-gain:.1g} caused by ε: exact EM never lowers it")
                caption = ("M-step: each component moves to the responsibility-weighted mean "
                           "and covariance of the points, with weight π_k = N_k / N; mean "
                           f"log-likelihood {text.fmt(ll0)} → "
                           f"{text.fmt(state.log_likelihood)} ({trend}).")
                notes = text.notes(state, n, reg)
                title += " · M-step" + (" · converged" if em_note else "")
            else:
                caption = (f"Adam alone: EM converged at iteration {em_done} (mean "
                           f"log-likelihood {text.fmt(ll0)}) and stays put while gradient "
                           "ascent goes on.")
                title += f" · Adam alone (EM converged at {em_done})"
            if not adam_done:
                adam_note = adam_iteration()
                notes.append(f"Adam after {adam.n_steps_} steps (step size {adam.lr:g}): mean "
                             f"log-likelihood {text.fmt(adam_ll0)} → "
                             f"{text.fmt(adam_state.log_likelihood)}.")
            batch_quiet = False
        else:  # ---- a fast forward: up to ff iterations in one frame, no E-step frames
            moved = stepped = 0  # iterations EM and Adam ran in this frame
            for _ in range(ff):
                it += 1
                if not em_done:
                    moved += 1
                    _, em_note = em_iteration(it)
                if not adam_done:
                    stepped += 1
                    adam_note = adam_iteration()
                if em_note or adam_note or quiet_run() == 0 or it == n_iter:
                    break
            batch_quiet = (not moved or em_settle.quiet) and \
                (not stepped or adam_settle.quiet)
            if moved:  # the responsibilities the fit has reached
                data = Points(x, **colours(resp))
            span = f"iterations {first}–{it}" if it > first else f"iteration {it}"
            title = f"EM · {span} / {n_iter} · " + (
                f"Adam alone (EM converged at {em_was_done}), " if em_was_done else "") + \
                "fast forward" + (" · converged" if em_note else "")
            said = []
            for who, ran, settle, before, after in (
                    ("EM", moved, em_settle, ll0, state.log_likelihood),
                    ("Adam", stepped, adam_settle, adam_ll0, adam_state.log_likelihood)):
                if ran:
                    steps = f" after {adam.n_steps_} steps" if who == "Adam" else ""
                    said.append(f"{who}'s mean log-likelihood {text.fmt(before)} → "
                                f"{text.fmt(after)}{steps}, no mean moving more than "
                                f"{settle.largest_move(ran):.2g}% of the view per iteration")
            head = (f"Adam alone (EM converged at iteration {em_was_done}): fast forward"
                    if em_was_done else "Fast forward")
            how = "while the fit barely moves" if batch_quiet else "until the fit moves again"
            caption = f"{head} through {span} {how}: " + "; ".join(said) + "."
            notes = text.notes(state, n, reg) if moved else []
            pace, hold = pc.FF_PACE, 0.0
        notes += ends(em_note, adam_note, em_was_done, it)
        last = bool(em_done and adam_done) or it == n_iter
        step += 1
        take((yield frame(step, it, title, text.join(caption, notes), data, pace,
                          pc.HOLD_END if last else hold)))
        ff = pc.next_batch(ff, it, quiet_run(), batch_quiet)
