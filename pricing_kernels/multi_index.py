"""Joint paths of several correlated Schwartz-Smith indices, exact on any grid.

The Gaussian state F (K factors: short factors mean-reverting, long factors arithmetic
Brownian motions) advances by its exact step, F <- decay[i] F + mu_dt[i] + chol[i] Z with
Z ~ N(0, I_K), chol[i] the Cholesky factor of the step covariance (the correlation of the
factors' shocks times the integrated decays; gpufin.models.multi_index). Jumps as in
pricing_kernels.index_step, by exponential inter-arrival times on each process's clock
(rate x t): a launch process per SKU group adds mean + vol Z_k to the long factor of every
index of the group (the same normal Z_k for all of them), a spike process per index adds its
decayed spike to that index's short factor; scheduled launches add their count of jumps at
their step. Index n: ln S = shift[n] + F[short_slot[n]] + F[long_slot[n]] + long_offset[n].

RNG (pricing_kernels.rng, a pure function of seed, path, stream and counter): stream
NORMAL_STREAM, counter step x ceil(K / 4) + block, gives the factor normals four at a time;
LAUNCH_STREAM + group and SPIKE_STREAM + index the events (counter 0: the first gap;
counter k: event k); SCHEDULED_STREAM + group, counter = step, the scheduled launches.
"""
import numpy as np
from numba import njit

from pricing_kernels.payoff import LANES
from pricing_kernels import CACHE
from pricing_kernels.rng import (draw_normal_rows, event_draw, normals4_lane, split_seed, uniform_open,
                                 words_lane)
from pricing_kernels.threads import range_kernel, run_ranges
from pricing_kernels.vecmath import exp_vec, log_vec

NORMAL_STREAM = 0
SCHEDULED_STREAM = 1 << 16
LAUNCH_STREAM = 2 << 16
SPIKE_STREAM = 3 << 16


@njit(cache=CACHE, error_model="numpy")
def first_gaps(k0, k1, ids, stream, rate, next_event, seen):
    """The first event time of each lane's path on a process's clock (never, at rate 0; once
    a lane group: a call)."""
    for lane in range(ids.size):
        seen[lane] = 0
        if rate > 0.0:
            w0, _, _, _ = words_lane(k0, k1, ids[lane], stream, 0)
            next_event[lane] = -log_vec(uniform_open(w0))
        else:
            next_event[lane] = np.inf


@njit
def launch_step(i, g, k0, k1, ids, f, next_event, seen, clock, sched, group, long_slot, mean, vol):
    """Group g's launches in step i (Poisson on its clock, `sched` scheduled), added to the
    long factors of its indices, each launch one normal shared by them (out of line, given
    the fields it reads: an out-of-line call copies what it is given)."""
    for lane in range(ids.size):
        count = 0.0
        z_sum = 0.0
        if sched > 0.0:
            z, _, _, _ = normals4_lane(k0, k1, ids[lane], SCHEDULED_STREAM + g, i)
            count = sched
            z_sum = np.sqrt(sched) * z
        while next_event[lane] <= clock:
            seen[lane] += 1
            z, gap, _ = event_draw(k0, k1, ids[lane], LAUNCH_STREAM + g, seen[lane])
            count += 1.0
            z_sum += z
            next_event[lane] += gap
        if count > 0.0:
            for n in range(group.size):
                if group[n] == g:
                    f[long_slot[n], lane] += count * mean[n] + vol[n] * z_sum


@njit
def spike_step(n, k0, k1, ids, f, next_event, seen, clock, rate, kappa, mean, vol, slot):
    """Index n's spikes up to `clock` (its clock at the end of the step), each decayed from
    its arrival to the end of the step, added to its short factor `slot`."""
    for lane in range(ids.size):
        while next_event[lane] <= clock:
            seen[lane] += 1
            z, gap, _ = event_draw(k0, k1, ids[lane], SPIKE_STREAM + n, seen[lane])
            age = (clock - next_event[lane]) / rate
            f[slot, lane] += (mean + vol * z) * np.exp(-kappa * age)
            next_event[lane] += gap


@njit(inline="always")
def _any_due(next_event, clock):
    """Whether any lane has an event by `clock` (a step without one costs this test alone)."""
    some = 0
    for lane in range(next_event.size):
        some |= 1 if next_event[lane] <= clock else 0
    return some != 0


@njit(inline="always")
def record_date(d, f, model, level, chi, xi):
    """Each index's level and (chi, xi) at date d (date 0: no shift) from the factors f."""
    for n in range(model.short_slot.size):
        s, l, offset = model.short_slot[n], model.long_slot[n], model.long_offset[n]
        shift = model.shift[n, d - 1] if d > 0 else 0.0
        for lane in range(f.shape[1]):
            chi[n, d, lane] = f[s, lane]
            xi[n, d, lane] = f[l, lane] + offset
            level[n, d, lane] = exp_vec(shift + chi[n, d, lane] + xi[n, d, lane])


def multi_index_paths(seed, first_path, n_paths, model):
    """(level, chi, xi), each [index, path, date], of paths first_path .. first_path +
    n_paths - 1 on the grid of `model` (a MultiIndexArgs record); date 0 is the valuation date."""
    shape = (model.short_slot.size, n_paths, model.decay.shape[0] + 1)
    level, chi, xi = np.empty(shape), np.empty(shape), np.empty(shape)
    run_ranges(multi_index_groups, -(-n_paths // LANES), level, chi, xi, seed, first_path, n_paths,
               model)
    return level, chi, xi


@range_kernel
def multi_index_groups(lo, hi, level, chi, xi, seed, first_path, n_paths, model):
    """The paths of multi_index_paths in lane groups lo .. hi - 1."""
    k0, k1 = split_seed(seed)
    decay, mu_dt, chol, state0 = model.decay, model.mu_dt, model.chol, model.state0
    n_steps, n_factors = decay.shape
    n_index = model.short_slot.size
    n_groups = model.launch_rate.size
    launch_clock, launch_sched, spike_clock = model.launch_clock, model.launch_sched, model.spike_clock
    blocks = (n_factors + 3) // 4
    for g in range(lo, hi):
        f = np.empty((n_factors, LANES))
        z = np.empty((4 * blocks, LANES))
        ids = np.empty(LANES, dtype=np.uint64)
        signs = np.ones(LANES)
        launch_next = np.empty((n_groups, LANES))
        launch_seen = np.empty((n_groups, LANES), dtype=np.int64)
        spike_next = np.empty((n_index, LANES))
        spike_seen = np.empty((n_index, LANES), dtype=np.int64)
        lv = np.empty((n_index, n_steps + 1, LANES))
        cv = np.empty((n_index, n_steps + 1, LANES))
        xv = np.empty((n_index, n_steps + 1, LANES))
        for lane in range(LANES):
            ids[lane] = np.uint64(first_path + g * LANES + lane)
            for a in range(n_factors):
                f[a, lane] = state0[a]
        for q in range(n_groups):
            first_gaps(k0, k1, ids, LAUNCH_STREAM + q, model.launch_rate[q], launch_next[q],
                       launch_seen[q])
        for n in range(n_index):
            first_gaps(k0, k1, ids, SPIKE_STREAM + n, model.spike_rate[n], spike_next[n],
                       spike_seen[n])
        record_date(0, f, model, lv, cv, xv)
        for i in range(n_steps):
            draw_normal_rows(k0, k1, ids, signs, NORMAL_STREAM, i * blocks, blocks, z)
            for a in range(n_factors):
                for lane in range(LANES):
                    f[a, lane] = decay[i, a] * f[a, lane] + mu_dt[i, a]
                for c in range(a + 1):
                    for lane in range(LANES):
                        f[a, lane] += chol[i, a, c] * z[c, lane]
            for q in range(n_groups):
                if launch_sched[q, i] > 0.0 or _any_due(launch_next[q], launch_clock[q, i]):
                    launch_step(i, q, k0, k1, ids, f, launch_next[q], launch_seen[q],
                                launch_clock[q, i], launch_sched[q, i], model.launch_group,
                                model.long_slot, model.launch_mean, model.launch_vol)
            for n in range(n_index):
                if _any_due(spike_next[n], spike_clock[n, i]):
                    spike_step(n, k0, k1, ids, f, spike_next[n], spike_seen[n], spike_clock[n, i],
                               model.spike_rate[n], model.kappa[n], model.spike_mean[n],
                               model.spike_vol[n], model.short_slot[n])
            record_date(i + 1, f, model, lv, cv, xv)
        for lane in range(min(LANES, n_paths - g * LANES)):
            p = g * LANES + lane
            for n in range(n_index):
                level[n, p] = lv[n, :, lane]
                chi[n, p] = cv[n, :, lane]
                xi[n, p] = xv[n, :, lane]
