"""A gpu-fleet's collateral under index moves, rate shifts and power-price moves, rebuilt path
by path from the series its kernel wrote at a few rate shifts (pricing_kernels.fleet's
write_parts; the algebra and its checks in gpufin.risk.loan_moves). Several moves at once: a
path's series are read from memory once for all of them (the rebuild is bound by memory
traffic, not arithmetic)."""
import numpy as np

from pricing_kernels.threads import range_kernel, run_ranges


def moved_collateral(m, weights, extra_opex, hours, first, discounted, opex_pv, floor, income_valued,
                     value_factor, out):
    """Writes (cash, value, going) [move, path, date] under index factors m[move] at the rate
    shifts whose Lagrange weights over the nodes are weights[move, node], with the opex
    extra_opex[move] (USD per GPU-hour) above the first node's, into the first m.size planes of
    out = (cash, value, going), buffers the caller reuses (a fresh array this large costs more
    in page faults than the rebuild). hours[date]: the hours of the cash period ending at the
    date (0 at date 0). first = (cash, value, moving cash, GPUs) [path, date] of the first node
    (value used only when not income_valued, times value_factor[move] = m^elasticity);
    discounted = (merchant value, contracts held, merchant revenue given up) [node, path, date]
    of every node, each read only where the value or the going concern needs it (else it may be
    empty); opex_pv [move, date] (USD per GPU) at each move's shift and opex, and floor (USD
    per GPU); out's going has no dates when the loan reads none."""
    run_ranges(moved_paths, first[0].shape[0], m, weights, extra_opex, hours, *first, *discounted,
               opex_pv, floor, income_valued, value_factor, *out)


@range_kernel
def moved_paths(lo, hi, m, weights, extra_opex, hours, cash, value, moving, gpus, merchant_value,
                contracts_held, given_up_value, opex_pv, floor, income_valued, value_factor, out_cash,
                out_value, out_going):
    """moved_collateral's rows for paths lo .. hi - 1 (each loop over a path's dates innermost,
    so that it vectorizes)."""
    n_dates = cash.shape[1]
    going = out_going.shape[2] > 0
    income_read = income_valued or going
    merchant, held, given_up = np.empty(n_dates), np.empty(n_dates), np.empty(n_dates)
    for p in range(lo, hi):
        for k in range(m.size):
            for i in range(n_dates):
                out_cash[k, p, i] = ((cash[p, i] - moving[p, i]) + m[k] * moving[p, i]
                                     - hours[i] * gpus[p, i] * extra_opex[k])
                merchant[i], held[i], given_up[i] = 0.0, 0.0, 0.0
            for n in range(weights.shape[1]):          # each node's series read only if used
                w = weights[k, n]
                if income_read:
                    for i in range(n_dates):
                        merchant[i] += w * merchant_value[n, p, i]
                if going:
                    for i in range(n_dates):
                        held[i] += w * contracts_held[n, p, i]
                        given_up[i] += w * given_up_value[n, p, i]
            for i in range(n_dates):
                income = max(m[k] * merchant[i] - gpus[p, i] * opex_pv[k, i], gpus[p, i] * floor)
                out_value[k, p, i] = income if income_valued else value[p, i] * value_factor[k]
                if going:
                    out_going[k, p, i] = income + held[i] - m[k] * given_up[i]
