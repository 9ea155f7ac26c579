"""The indices of a hedge on common paths (gpufin.engines.montecarlo.index_chunks: levels
and horizon states), and what a hedge adds: its grid and the index an instrument settles on.
A gpu-fleet's indices come from the fleet kernel (gpufin.hedge.exposure), which gives their
levels and states (chi, xi; a basis index's c).
"""
from __future__ import annotations

import numpy as np

from gpufin.engines.montecarlo import SINGLE, merged_grid


def settled_index(instrument) -> str:
    """The name of the index an instrument settles on (`instrument.index`, else the one index)."""
    return getattr(instrument, "index", None) or SINGLE


def grid_with(times, horizon: float) -> np.ndarray:
    """The hedge's grid (years): 0, the horizon and `times` (prints and payments)."""
    return merged_grid([0.0, horizon, *np.asarray(times, dtype=float).tolist()], [])
