"""A loan's spread split into expected loss, risk premium and residual, in bp a year.

From three spreads a loan engine gives (each the spread over the curve that prices the loan
at par, or the quoted one): the real-world fair spread (paths under the physical measure:
rent trend and default hazards estimated from history and ratings, i.e. model parameters),
the risk-neutral fair spread (hazards from CDS or rating-spread curves and rents on the
compute forward curve, i.e. market data), and the observed spread (the deal's quoted
margin, data). Then:

    expected loss = real-world fair spread            (compensation for the mean loss)
    risk premium  = risk-neutral - real-world         (the price of bearing default risk)
    residual      = observed - risk-neutral           (what neither explains: liquidity,
                                                       structure, model error)

and the three add up to the observed spread.
"""
from __future__ import annotations

import math

from gpufin.errors import SpecError


def decompose_spread(real_world_bp: float, risk_neutral_bp: float, observed_bp: float) -> dict:
    """{expected_loss_bp, risk_premium_bp, residual_bp, observed_bp}; inputs in bp a year."""
    for key, value in (("real_world_bp", real_world_bp), ("risk_neutral_bp", risk_neutral_bp),
                       ("observed_bp", observed_bp)):
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise SpecError(key, f"got {value!r}; expected a finite spread in bp")
    return {"expected_loss_bp": float(real_world_bp),
            "risk_premium_bp": float(risk_neutral_bp - real_world_bp),
            "residual_bp": float(observed_bp - risk_neutral_bp),
            "observed_bp": float(observed_bp)}
