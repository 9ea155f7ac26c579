"""The income approach's value of a GPU fleet per lane of paths: exact, and tabulated.

Per GPU at date i, with the state (chi, xi, Y) of a path (gpufin.models.fleet):
  merchant value  e^{xi} F_i(chi, Y),
  F_i(chi, Y) = sum_j w[i,j] e^{log_a[i,j] + c[i,j] chi} E[logistic(m + sd Z)],
  m = -(util_base[i,j] - d[i,j] Y), the expectation by Gauss-Hermite quadrature in symmetric
  pairs (pair_s, pair_w); and for contract k the merchant revenue it displaces,
  e^{xi} P_{k,i}(chi, Y), the same sum weighted month by month by displaced[k, i, j].
Exact: the sum over the months (`gross_values`), 2 exponentials and 5 divisions per month,
lane and date.
Split: the months before split[i] are summed exactly; the later ones are tabulated. xi enters
only as the factor e^{xi}, so the tabulated part of F_i and of each P_{k,i} is a smooth
function of (chi, Y): a sum of e^{c chi} times logistic-normal expectations in Y, entire in
chi and analytic in a strip around the real Y axis. A Chebyshev series of degree
(CHI_NODES - 1, Y_NODES - 1) interpolates it on the box [chi_lo, chi_hi] x [y_lo, y_hi]
(`tabulate`, from its values at the tensor nodes of the first kind): CHI_NODES x Y_NODES
multiply-adds per lane and function for the whole tabulated sum, against 2 exponentials and 5
divisions per month summed exactly. On a box of 5 standard deviations every month can be
tabulated (split[i] = the first month after the date). `tabulate` checks each series against
the exact sum on a second grid and gpufin.models.fleet uses the tables only where they agree
to TABLE_RTOL of the tabulated sum's largest value (else it moves the split later, where the
months see chi and Y damped by their mean reversion); a lane outside the box sums every month
exactly (an empty box, lo > hi, and split at the last month make every lane exact).
"""
import numpy as np
from numba import njit

from pricing_kernels import CACHE
from pricing_kernels.threads import range_kernel, run_ranges
from pricing_kernels.vecmath import exp_vec

E_LOG_MAX = 69.0
GH_PAIRS = 5         # gpufin.models.fleet.GH_NODES / 2, fixed so that the pair loop unrolls
CHI_NODES = 12
Y_NODES = 22
TABLE_RTOL = 1e-7     # the tables against the exact sum, relative (within the 1e-6 a loan needs)


@njit(inline="always")
def merchant_month(n, w, log_a, c, d, util_base, pair_s, i, j, pair_w, chi, y, level, util, out):
    """One month of F per lane (lanes 0..n-1): level = w e^{log_a + c chi} (USD per GPU
    before e^{xi}), util = E[U] by the Gauss-Hermite pairs (s_k = pair_s[i, j, k], read in
    place: a slice would count a reference per month), out += level x util. Nodes
    +-x_k pair up: with E = e^{-m} and s_k = 2 cosh(sd x_k),
    logistic(m + sd x_k) + logistic(m - sd x_k) = (2 + E s_k) / (1 + E s_k + E^2);
    |ln E| <= E_LOG_MAX keeps E^2 finite (it changes only utilizations below about 1e-14)."""
    for lane in range(n):
        level[lane] = w * exp_vec(log_a + c * chi[lane])
        e = exp_vec(min(max(util_base - d * y[lane], -E_LOG_MAX), E_LOG_MAX))
        u = 0.0
        for k in range(GH_PAIRS):
            s = pair_s[i, j, k]
            u += pair_w[k] * (2.0 + e * s) / (1.0 + e * (s + e))
        util[lane] = u
        out[lane] += level[lane] * u


@njit(inline="always")
def gross_values(n, i, j_from, j_to, chi, y, fa, level, util, out, partial):
    """The months j_from <= j < j_to of F_i, added to out[lane], and of P_{k,i}, added to
    partial[k, lane], lanes 0..n-1 (fa: FleetArgs). Every loop over lanes is innermost and
    branch-free, so that it vectorizes."""
    weights = fa.displaced
    for j in range(j_from, j_to):
        merchant_month(n, fa.w[i, j], fa.log_a[i, j], fa.c[i, j], fa.d[i, j], fa.util_base[i, j],
                       fa.pair_s, i, j, fa.pair_w, chi, y, level, util, out)
        for k in range(weights.shape[0]):
            weight = weights[k, i, j]
            for lane in range(n):
                partial[k, lane] += weight * level[lane] * util[lane]


@njit(inline="always")
def chebyshev_basis(n, x, lo, hi, nodes, basis):
    """basis[m, lane] = T_m(u), m < nodes, u = x mapped from [lo, hi] onto [-1, 1] and
    clamped. The recurrence runs in registers inside the lane loop (`nodes` a constant, so the
    loop over m unrolls and the lane loop is innermost and vectorizes)."""
    scale = 2.0 / (hi - lo)
    for lane in range(n):
        u = min(max((x[lane] - lo) * scale - 1.0, -1.0), 1.0)
        t_prev, t = 1.0, u
        basis[0, lane] = 1.0
        basis[1, lane] = u
        for m in range(2, nodes):
            t_prev, t = t, 2.0 * u * t - t_prev
            basis[m, lane] = t


@njit(inline="always")
def chebyshev_sum(n, table, i, f, basis_chi, basis_y, out):
    """out[lane] = sum_{m,l} coef[m, l] basis_chi[m, lane] basis_y[l, lane], coef =
    table[i, f] read in place; the sum over l in a register per lane (its loop unrolls, the
    lane loop around it vectorizes)."""
    for lane in range(n):
        out[lane] = 0.0
    for m in range(CHI_NODES):
        for lane in range(n):
            inner = 0.0
            for l in range(Y_NODES):
                inner += table[i, f, m, l] * basis_y[l, lane]
            out[lane] += basis_chi[m, lane] * inner


@njit(inline="always")
def income_scratch(lanes, contracts):
    """Work arrays of `fleet_income` for `lanes` lanes (a tuple, made once per lane group)."""
    return (np.empty((CHI_NODES, lanes)), np.empty((Y_NODES, lanes)),
            np.empty(lanes), np.empty(lanes), np.empty(lanes), np.empty(lanes, dtype=np.int64),
            np.empty(lanes), np.empty(lanes), np.empty(lanes), np.empty((contracts, lanes)))


@njit(inline="always")
def fleet_income(n, i, chi, xi, y, fa, scratch, gross, partial):
    """Per lane, the merchant value e^{xi} F_i in gross[lane] and e^{xi} P_{k,i} in
    partial[k, lane]: the months before split[i] exactly, the rest from the table inside the
    box and exactly outside it."""
    basis_chi, basis_y, far, level, util, lanes, _, _, out_gross, out_partial = scratch
    chi_lo, chi_hi, y_lo, y_hi = fa.box[0], fa.box[1], fa.box[2], fa.box[3]
    split, months, contracts = fa.split[i], fa.w.shape[1], partial.shape[0]
    for lane in range(n):
        gross[lane] = 0.0
    for k in range(contracts):
        for lane in range(n):
            partial[k, lane] = 0.0
    gross_values(n, i, fa.j0[i], split, chi, y, fa, level, util, gross, partial)
    if split < months:
        outside = 0                        # lanes outside the box: their far months exactly
        for lane in range(n):
            outside += 0 if chi_lo <= chi[lane] <= chi_hi and y_lo <= y[lane] <= y_hi else 1
        if outside > 0:
            _far_outside(n, i, split, months, chi, y, fa, scratch)
        chebyshev_basis(n, chi, chi_lo, chi_hi, CHI_NODES, basis_chi)
        chebyshev_basis(n, y, y_lo, y_hi, Y_NODES, basis_y)
        for f in range(1 + contracts):
            chebyshev_sum(n, fa.table, i, f, basis_chi, basis_y, far)
            for r in range(outside):
                far[lanes[r]] = out_gross[r] if f == 0 else out_partial[f - 1, r]
            if f == 0:
                for lane in range(n):
                    gross[lane] += far[lane]
            else:
                for lane in range(n):
                    partial[f - 1, lane] += far[lane]
    for lane in range(n):
        far[lane] = exp_vec(xi[lane])
        gross[lane] *= far[lane]
    for k in range(contracts):
        for lane in range(n):
            partial[k, lane] *= far[lane]


@njit(cache=CACHE, error_model="numpy")
def _far_outside(n, i, split, months, chi, y, fa, scratch):
    """The far months by their exact sum for the lanes outside the box, gathered into
    scratch's lanes, out_chi, out_y, out_gross and out_partial."""
    _, _, _, level, util, lanes, out_chi, out_y, out_gross, out_partial = scratch
    box = fa.box
    m = 0
    for lane in range(n):
        if not (box[0] <= chi[lane] <= box[1] and box[2] <= y[lane] <= box[3]):
            lanes[m] = lane
            out_chi[m] = chi[lane]
            out_y[m] = y[lane]
            out_gross[m] = 0.0
            for k in range(out_partial.shape[0]):
                out_partial[k, m] = 0.0
            m += 1
    gross_values(m, i, split, months, out_chi, out_y, fa, level, util, out_gross, out_partial)


def tabulate(fa, box, split):
    """The Chebyshev coefficients table[i, 0] of the far part (months split[i] on) of F_i and
    table[i, 1 + k] of P_{k,i} on `box` (chi_lo, chi_hi, y_lo, y_hi), and the largest error of
    the series against the exact sum on the (CHI_NODES + 1) x (Y_NODES + 1) extrema grid,
    relative to the largest exact value of the function on that grid, over every date and
    function. Dates are tabulated in ranges on the kernel threads (pricing_kernels.threads)."""
    n_dates = fa.times.size
    table = np.zeros((n_dates, 1 + fa.displaced.shape[0], CHI_NODES, Y_NODES))
    errors = np.zeros(n_dates)
    run_ranges(tabulate_dates, n_dates, fa, box, split, table, errors)
    return table, float(errors.max()) if n_dates else 0.0


@range_kernel
def tabulate_dates(lo, hi, fa, box, split, table, errors):
    """tabulate's table[i] and the largest relative error errors[i] of dates lo .. hi - 1 (a
    date whose far part is empty keeps zeros)."""
    node_chi = np.cos(np.pi * (np.arange(CHI_NODES) + 0.5) / CHI_NODES)
    node_y = np.cos(np.pi * (np.arange(Y_NODES) + 0.5) / Y_NODES)
    to_coef_chi = _interpolation_matrix(node_chi)
    to_coef_y = np.ascontiguousarray(_interpolation_matrix(node_y).T)
    check_chi = np.cos(np.pi * np.arange(CHI_NODES + 1) / CHI_NODES)
    check_y = np.cos(np.pi * np.arange(Y_NODES + 1) / Y_NODES)
    for i in range(lo, hi):
        if split[i] >= fa.w.shape[1]:
            continue
        values = _grid_values(i, split[i], fa, box, node_chi, node_y)
        for f in range(table.shape[1]):
            table[i, f] = to_coef_chi @ values[f] @ to_coef_y
        exact = _grid_values(i, split[i], fa, box, check_chi, check_y)
        for f in range(table.shape[1]):
            approx = _series_on_grid(table[i, f], check_chi, check_y)
            scale = np.max(np.abs(exact[f]))
            if scale > 0.0:
                errors[i] = max(errors[i], np.max(np.abs(approx - exact[f])) / scale)


@njit(inline="always")
def _interpolation_matrix(nodes):
    """M with coef = M @ values: the Chebyshev coefficients of the interpolant at the
    first-kind nodes, M[m, k] = (2 - [m = 0]) / n T_m(x_k)."""
    n = nodes.size
    out = np.empty((n, n))
    for m in range(n):
        for k in range(n):
            out[m, k] = (1.0 if m == 0 else 2.0) / n * np.cos(m * np.arccos(nodes[k]))
    return out


@njit(inline="always")
def _grid_values(i, j_from, fa, box, u_chi, u_y):
    """The months j_from on of F_i and P_{k,i}, exactly, on the tensor grid of u_chi x u_y
    (points of [-1, 1] mapped onto the box): values[f, a, b]."""
    n_chi, n_y = u_chi.size, u_y.size
    n = n_chi * n_y
    chi, y = np.empty(n), np.empty(n)
    for a in range(n_chi):
        for b in range(n_y):
            chi[a * n_y + b] = box[0] + (u_chi[a] + 1.0) * 0.5 * (box[1] - box[0])
            y[a * n_y + b] = box[2] + (u_y[b] + 1.0) * 0.5 * (box[3] - box[2])
    gross, level, util = np.zeros(n), np.empty(n), np.empty(n)
    partial = np.zeros((fa.displaced.shape[0], n))
    gross_values(n, i, j_from, fa.w.shape[1], chi, y, fa, level, util, gross, partial)
    values = np.empty((1 + partial.shape[0], n_chi, n_y))
    values[0] = gross.reshape((n_chi, n_y))
    for k in range(partial.shape[0]):
        values[1 + k] = partial[k].reshape((n_chi, n_y))
    return values


@njit(inline="always")
def _series_on_grid(coef, u_chi, u_y):
    """The Chebyshev series `coef` at every point of the grid u_chi x u_y."""
    t_chi = np.empty((u_chi.size, coef.shape[0]))
    t_y = np.empty((u_y.size, coef.shape[1]))
    for a in range(u_chi.size):
        for m in range(coef.shape[0]):
            t_chi[a, m] = np.cos(m * np.arccos(u_chi[a]))
    for b in range(u_y.size):
        for m in range(coef.shape[1]):
            t_y[b, m] = np.cos(m * np.arccos(u_y[b]))
    return t_chi @ coef @ np.ascontiguousarray(t_y.T)
