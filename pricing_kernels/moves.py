"""A gpu-fleet's collateral under an index move and a rate shift, rebuilt path by path from the
series its kernel wrote at a few rate shifts (pricing_kernels.fleet's write_parts; the algebra
and its checks in gpufin.risk.loan_moves): one pass over each path's dates, where NumPy would
make a dozen passes over whole arrays."""
import numpy as np

from pricing_kernels.fleet import CONTRACTS_HELD, GPUS, MERCHANT_GIVEN_UP, MERCHANT_VALUE, MOVING_CASH
from pricing_kernels.threads import range_kernel, run_ranges


def moved_collateral(m, weights, cash, value, parts, opex_pv, floor, income_valued, value_factor,
                     with_going):
    """(cash, value, going) [path, date] under index factor m at the rate shift whose Lagrange
    weights over the nodes are `weights`: cash [path, date] and value (used only when not
    income_valued, times value_factor = m^elasticity) of the first node, parts [node, part,
    path, date] of every node, opex_pv [date] (USD per GPU) and floor (USD per GPU) at the
    shift; going has no dates unless with_going."""
    n_paths, n_dates = cash.shape
    out_cash, out_value = np.empty((n_paths, n_dates)), np.empty((n_paths, n_dates))
    out_going = np.empty((n_paths, n_dates if with_going else 0))
    run_ranges(moved_paths, n_paths, m, weights, cash, value, parts, opex_pv, floor, income_valued,
               value_factor, out_cash, out_value, out_going)
    return out_cash, out_value, out_going


@range_kernel
def moved_paths(lo, hi, m, weights, cash, value, parts, opex_pv, floor, income_valued, value_factor,
                out_cash, out_value, out_going):
    """moved_collateral's rows for paths lo .. hi - 1 (each loop over a path's dates innermost,
    so that it vectorizes)."""
    n_dates = cash.shape[1]
    going = out_going.shape[1] > 0
    merchant, held, given_up = np.empty(n_dates), np.empty(n_dates), np.empty(n_dates)
    for p in range(lo, hi):
        for i in range(n_dates):
            moving = parts[0, MOVING_CASH, p, i]
            out_cash[p, i] = (cash[p, i] - moving) + m * moving
            merchant[i], held[i], given_up[i] = 0.0, 0.0, 0.0
        for n in range(weights.size):
            w = weights[n]
            for i in range(n_dates):
                merchant[i] += w * parts[n, MERCHANT_VALUE, p, i]
                held[i] += w * parts[n, CONTRACTS_HELD, p, i]
                given_up[i] += w * parts[n, MERCHANT_GIVEN_UP, p, i]
        for i in range(n_dates):
            gpus = parts[0, GPUS, p, i]
            income = max(m * merchant[i] - gpus * opex_pv[i], gpus * floor)
            out_value[p, i] = income if income_valued else value[p, i] * value_factor
            if going:
                out_going[p, i] = income + held[i] - m * given_up[i]
