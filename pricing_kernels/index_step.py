"""Exact steps of the Schwartz-Smith rental index over a lane group, shared by kernels.

Two forms of the Gaussian part:
- state form (the fleet kernel, which needs chi and xi apart):
  chi <- decay[i] chi + a11[i] Z1;  xi <- xi + mu_dt[i] + a21[i] Z1 + a22[i] Z2
  with (a11, a21, a22) the Cholesky factor of the exact step covariance;
- innovations form (kernels that only read X = chi + xi): the exact law of the X path from
  ONE normal a step, by the prediction-error decomposition of the Gaussian state given the
  X path so far. c is E[chi | X so far] (plus the decaying spikes); its covariance follows a
  deterministic recursion, so gain[i] and innovation_sd[i] are computed once in Python
  (gpufin.models.index.TwoFactor.kernel_args):
  X <- X + mu_dt[i] + (decay[i] - 1) c + innovation_sd[i] Z;  c <- decay[i] c + gain[i] Z.
Jumps: launches into xi (X), shortage spikes into chi (c and X). Both arrive as one Poisson
process of events at event_rate (launch + spike intensity, per year), drawn by its
exponential inter-arrival times on the clock event_rate x t (event_clock[i] at the end of
step i), so a step without an event costs one comparison. Event k of a path (k = 1, 2, ...)
takes one draw: a launch with probability launch_share, else a spike; its size normal; the
gap to the next event. A spike arriving at tau decays by e^{-kappa (t_end - tau)} by the
end of its step. Scheduled launches add their count of jumps at their step.
RNG streams: EVENT_STREAM (counter 0: the first gap; counter k: event k), LAUNCH_STREAM
(scheduled launches, counter = step).
"""

import numpy as np
from numba import njit

from pricing_kernels import CACHE
from pricing_kernels.rng import draw_normals4, event_draw, uniform_open, words_lane
from pricing_kernels.vecmath import log_vec

EVENT_STREAM = 2
LAUNCH_STREAM = 3


@njit(inline="always")
def jump_scratch(lanes):
    """Work arrays of a lane group's jumps: next_event (on the event clock), seen (events
    drawn), zl (scheduled launch normals)."""
    return np.empty(lanes), np.empty(lanes, dtype=np.int64), np.empty((4, lanes))


@njit(inline="always")
def has_jumps(index):
    """Whether the jumps of a TwoFactorArgs record (pricing_kernels.records) can make any jump
    (a loop: np.max would compile NumPy's reduction functions with every kernel)."""
    some = index.event_rate > 0.0
    for count in index.launch_sched:
        some = some or count > 0.0
    return some


@njit(cache=CACHE, error_model="numpy")
def jump_start(k0, k1, ids, scratch):
    """The first event time of each lane's path, on the event clock (once a lane group: a
    call)."""
    next_event, seen, _ = scratch
    for lane in range(ids.size):
        w0, _, _, _ = words_lane(k0, k1, ids[lane], EVENT_STREAM, 0)
        next_event[lane] = -log_vec(uniform_open(w0))
        seen[lane] = 0


@njit(inline="always")
def index_diffusion(i, row, chi, xi, z1, z2, decay, a11, a21, a22, mu_dt):
    """State form: the Gaussian part of step i, from normals z1[row], z2[row]."""
    for lane in range(chi.size):
        chi[lane] = decay[i] * chi[lane] + a11[i] * z1[row, lane]
        xi[lane] += mu_dt[i] + a21[i] * z1[row, lane] + a22[i] * z2[row, lane]


@njit(inline="always")
def index_innovation(i, row, c, x, z, decay, gain, innovation_sd, mu_dt):
    """Innovations form: the Gaussian part of step i, from normals z[row]."""
    for lane in range(c.size):
        x[lane] += mu_dt[i] + (decay[i] - 1.0) * c[lane] + innovation_sd[i] * z[row, lane]
        c[lane] = decay[i] * c[lane] + gain[i] * z[row, lane]


@njit(inline="always")
def index_jumps(i, k0, k1, ids, signs, scratch, index, short, long, innovations):
    """Add step i's jumps (of `index`, a TwoFactorArgs record): decayed spikes to `short`
    (chi, or c), launches to `long` (xi), and with `innovations` (long is then X = chi + xi)
    the spikes to `long` too."""
    next_event = scratch[0]
    event_clock, launch_sched = index.event_clock, index.launch_sched
    some = 0
    for lane in range(ids.size):
        some |= 1 if next_event[lane] <= event_clock[i] else 0
    if some != 0 or launch_sched[i] != 0.0:
        draw_jumps(i, k0, k1, ids, signs, scratch, event_clock, index.event_rate, index.launch_share,
                   launch_sched[i], index.launch_mean, index.launch_vol, index.spike_mean,
                   index.spike_vol, index.kappa, short, long, innovations)


@njit
def draw_jumps(i, k0, k1, ids, signs, scratch, event_clock, event_rate, launch_share, sched,
               launch_mean, launch_vol, spike_mean, spike_vol, kappa, short, long, innovations):
    """The rare part of index_jumps, kept out of line (and given the fields it reads, not the
    record: an out-of-line call copies what it is given): events are drawn lane by lane,
    only where they happen, and summed per lane before they are added; `sched` scheduled
    launches fall in step i."""
    next_event, seen, zl = scratch
    if sched > 0.0:
        draw_normals4(k0, k1, ids, signs, LAUNCH_STREAM, i, zl)
    for lane in range(ids.size):
        launches = sched * launch_mean + np.sqrt(sched) * launch_vol * zl[0, lane] if sched > 0.0 else 0.0
        spikes = 0.0
        while next_event[lane] <= event_clock[i]:
            seen[lane] += 1
            za, gap, kind = event_draw(k0, k1, ids[lane], EVENT_STREAM, seen[lane])
            z = signs[lane] * za
            if kind < launch_share:
                launches += launch_mean + launch_vol * z
            else:
                age = (event_clock[i] - next_event[lane]) / event_rate
                spikes += (spike_mean + spike_vol * z) * np.exp(-kappa * age)
            next_event[lane] += gap
        short[lane] += spikes
        long[lane] += spikes + launches if innovations else launches
