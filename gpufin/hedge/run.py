"""`hedge(spec, hedge_files, ...)`: the one code path behind the Python API and `gpufin hedge`.

The exposure and every candidate are valued per path on common paths (gpufin.hedge.exposure,
gpufin.hedge.values); each P&L to the horizon is its value less its Monte Carlo mean on the
same paths (today's price on the model), in USD of today. The quantities minimize the
variance or the 99% ES of the hedged P&L (gpufin.hedge.analytics); a quantity counts units
of the candidate's file as written (its notional included), negative for a short position.
Fewer than MIN_PATHS paths are refused. The result lists the candidates `dropped` (linearly
dependent on those before them, gpufin.hedge.analytics.independent; quantity 0) and those
`attenuated` (valued pathwise with cash after the horizon, docs/hedging.md: their noise after
the horizon biases the minimum-variance quantity toward 0), each with its row's `note`. A
horizon given as a date or tenor without a valuation date counts from
gpufin.hedge.positions.DEFAULT_START, named in `horizon_from`.

For a loan, the hedged loss on a path is the loan's loss (PV at today of its shortfall,
gpufin.engines.loan) less the hedge's P&L on that path (negative where the hedge gains more
than the loan loses). The `risk` rows give, unhedged and hedged: `expected_loss`, its mean
(the hedged one equals the loan's EL less the hedge's mean P&L, which is zero: each P&L is
measured from its mean); `loss_es99`, the mean of its worst 1%; `pd`, the probability of a
payment default on which the lender loses more than a cent (net of the hedge on the hedged
row). A hedge the lender holds changes what it loses, not whether the borrower pays:
`payment_pd` is the loan's probability of a payment default.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gpufin.engines.montecarlo import Z95
from gpufin.engines.tail import tail_measures
from gpufin.errors import SpecError
from gpufin.hedge import analytics
from gpufin.hedge.exposure import build_exposure, chunks, event_times
from gpufin.hedge.paths import grid_with
from gpufin.hedge.positions import check_horizon, horizon_years, load_candidates
from gpufin.hedge.values import lay_out, path_values
from gpufin.spec.files import read_document
from gpufin.spec.reader import apply_overrides, validate

DROPPED = "dropped: a linear combination of the candidates listed before it; quantity 0"
ATTENUATED = ("valued pathwise with cash after the horizon: its noise attenuates the minimum-variance "
              "quantity toward 0")
MIN_PATHS = 100                 # the 99% ES tail, 1% of the paths, holds at least one whole path
LOSS_TOLERANCE_USD = 0.01       # a default costs the lender something when it loses more than a cent


@dataclass(frozen=True)
class HedgeRun:
    """A hedge's result (a flat dict of the effectiveness measures, with `risk` the rows of
    the unhedged and hedged P&L's risk and `hedges` those of the candidates) and its
    per-path samples: exposure[n] and hedges[n, k] P&L (USD), the index level at the horizon
    (USD/GPU-hr) and the quantities."""
    result: dict
    exposure: np.ndarray
    hedges: np.ndarray
    level: np.ndarray
    quantities: np.ndarray


def hedge(spec, hedge_files, horizon: str = "1Y", objective: str = "variance",
          overrides: list[str] = ()) -> HedgeRun:
    """Hedge the exposure of `spec` (a loan, a gpu-fleet alone, or a derivative; a path or a
    dict) with the candidate spec files `hedge_files` over `horizon` (years, or a tenor from
    the valuation date), minimizing the hedged P&L's variance or 99% ES."""
    if objective not in analytics.OBJECTIVES:
        raise SpecError("--objective", f"got {objective!r}; expected one of {', '.join(analytics.OBJECTIVES)}")
    doc = apply_overrides(spec if isinstance(spec, dict) else read_document(spec), list(overrides))
    s = validate(doc, instrument_required=False)
    check_paths(s.mc.paths)
    exposure = build_exposure(s, doc.get("model", {}))
    candidates = load_candidates(hedge_files, exposure.indices, exposure.model_doc, exposure.market_doc)
    years, horizon_from = horizon_years(horizon, exposure.market_doc.get("valuation_date"))
    check_horizon(years, horizon, [c.plan.maturity for c in candidates] + [exposure.maturity])
    samples = _samples(exposure, candidates, years, s.mc.paths, s.mc.seed)
    pnl = samples.value - samples.value.mean()
    hedge_pnl = samples.values - samples.values.mean(axis=0)
    quantities, dropped = analytics.hedge_quantities(pnl, hedge_pnl, objective)
    value = samples.value
    result = {"exposure": exposure.kind, "objective": objective, "horizon_years": years,
              **({"horizon_from": horizon_from} if horizon_from else {}),
              "paths": s.mc.paths, "seed": s.mc.seed, "method": "mc",
              "exposure_value_usd": float(value.mean()),
              "exposure_value_usd_stderr": float(value.std(ddof=1) / math.sqrt(value.size)),
              **analytics.measures(pnl, hedge_pnl, quantities)}
    if exposure.kind == "loan":
        credit = _credit(samples.loss, samples.default, hedge_pnl @ quantities)
        result["payment_pd"] = credit.pop("payment_pd")
        for name, fields in credit.items():
            result[name].update(fields)
    result["risk"] = [{"position": name, **result.pop(name)} for name in ("unhedged", "hedged")]
    attenuated = [k for k, (c, p) in enumerate(zip(candidates, samples.laid))
                  if not p.conditional and c.plan.maturity > years]
    notes = {**{k: ATTENUATED for k in attenuated}, **{k: DROPPED for k in dropped}}
    result["hedges"] = [_row(c, q, samples.values[:, k], hedge_pnl[:, k], pnl, p.conditional, notes.get(k, ""))
                        for k, (c, q, p) in enumerate(zip(candidates, quantities.tolist(), samples.laid))]
    result["dropped"] = [candidates[k].name for k in dropped]
    result["attenuated"] = [candidates[k].name for k in attenuated if k not in dropped]
    return HedgeRun(result, pnl, hedge_pnl, samples.level, quantities)


def check_paths(paths: int) -> None:
    """Refuse fewer than MIN_PATHS paths: below 100 the 99% ES's tail, ceil(1% of the paths),
    is one path standing for more than 1% of them, and the regression and standard errors
    have next to nothing to go on."""
    if paths < MIN_PATHS:
        raise SpecError("--paths", f"got {paths}; expected at least {MIN_PATHS} paths (the 99% ES tail, 1% "
                                   "of the paths, must hold at least one whole path)")


@dataclass(frozen=True)
class _Samples:
    """Per path: the exposure's value, each candidate's, the exposure's index level at the
    horizon, and a loan's loss and payment default (None otherwise); the candidates as laid
    on the grid."""
    value: np.ndarray
    values: np.ndarray
    level: np.ndarray
    loss: np.ndarray | None
    default: np.ndarray | None
    laid: list


def _samples(exposure, candidates, horizon: float, n_paths: int, seed: int) -> _Samples:
    """The exposure and the candidates valued on common paths, chunk by chunk."""
    times = event_times(exposure) + [t for c in candidates for t in c.plan.event_times().tolist()]
    grid = grid_with(times, horizon)
    laid = [lay_out(c.plan, c.index, c.market, grid, horizon, f"hedge[{n}].instrument")
            for n, c in enumerate(candidates, start=1)]
    parts = [(chunk, np.column_stack([path_values(p, chunk.paths, chunk.horizons) for p in laid]))
             for chunk in chunks(exposure, grid, horizon, n_paths, seed)]
    at = int(np.searchsorted(grid, horizon))
    loan = exposure.kind == "loan"
    return _Samples(np.concatenate([c.value for c, _ in parts]), np.concatenate([h for _, h in parts]),
                    np.concatenate([c.paths[exposure.index].level[:, at] for c, _ in parts]),
                    np.concatenate([c.loss for c, _ in parts]) if loan else None,
                    np.concatenate([c.default for c, _ in parts]) if loan else None, laid)


def _credit(loss: np.ndarray, default: np.ndarray, gain: np.ndarray) -> dict:
    """The loan's EL, 99% loss ES and loss-making PD, `unhedged` and `hedged` (net of the hedge's
    gain on each path), and the payment PD."""
    n = loss.size
    net = loss - gain
    out = {"payment_pd": float(default.mean())}
    for name, losses in (("unhedged", loss), ("hedged", net)):
        flags = default & (losses > LOSS_TOLERANCE_USD)
        pd = float(flags.mean())
        tail = tail_measures(losses, analytics.ES_LEVEL)
        out[name] = {"expected_loss": float(losses.mean()),
                     "expected_loss_stderr": float(losses.std(ddof=1) / math.sqrt(n)),
                     "loss_es99": tail["es"], "loss_es99_stderr": tail["es_stderr"],
                     "pd": pd, "pd_stderr": math.sqrt(pd * (1.0 - pd) / n)}
    return out


def _row(candidate, quantity: float, value: np.ndarray, pnl: np.ndarray, exposure: np.ndarray,
         conditional: bool, note: str) -> dict:
    """A candidate's row: its quantity, Monte Carlo value today, P&L spread and correlation
    with the exposure, how its horizon value is had, and a note (DROPPED, ATTENUATED or "")."""
    n = value.size
    sd = float(pnl.std(ddof=1))
    corr = float(np.corrcoef(pnl, exposure)[0, 1]) if sd > 0.0 and exposure.std() > 0.0 else 0.0
    mean, se = float(value.mean()), sd / math.sqrt(n)
    return {"candidate": candidate.name, "instrument": candidate.spec.instrument.kind,
            "quantity": quantity, "value": mean, "stderr": se,
            "ci95": [mean - Z95 * se, mean + Z95 * se], "pnl_sd_usd": sd, "correlation": corr,
            "valuation": "conditional" if conditional else "pathwise", "note": note}
