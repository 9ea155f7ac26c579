"""A loan's Greeks for a risk team, on common random numbers, each with its standard error.

Every bump revalues the loan with its principal schedule written in (fixed_schedule), on the
base spec's seed and path count, so a Greek is the mean of per-path differences of the
lender's value (gpufin.engines.loan.path_values: PV receipts - PV draws + the first draw, USD)
and its standard error is the spread of those differences over sqrt(paths). Greeks are in USD
for the bump named (the difference bumped - base, so a loss is negative):
- `dv01`: every discount rate +1 bp (gpufin.risk.bumps.shift_rates). Sign: a fixed-rate loan
  loses (< 0); a floating one's coupons follow the curve, so it moves little (its fixed margin
  is discounted a bit more, and a higher coupon strains the DSCR).
- `cs01`: price points (% of par) per +1 bp of the discount margin to `market.loan_price`,
  the analytic figure and its standard error of gpufin.credit.margin.solve_loan_margin, as
  `loan_measures` reports it.
- per customer (`customer_greeks` rows) and for the platform (when the model has one):
  `pd01` hazard +1 bp a year (+0.0001 on its flat hazard or on every piece of its curve);
  `jtd` in default at t = 0 (default_hazard = inf); with `at` (years, inside the loan's
  life), `jtd_at`: a hazard curve 0 before `at` and JTD_HAZARD after it, so the name survives
  to `at` and defaults an exponential time of mean 1 / JTD_HAZARD years (about 9 hours) after
  it; the approximation is the discounting and the accrual over that delay.
  `pd01_customers`: every customer's hazard +1 bp a year at once.
- `rent_level`: the index level x 1.01 (gpufin.risk.bumps.scale_index), per +1%.
- `rent_trend`: the index's long-term drift mu_xi (`long_drift`) +0.01 a year (gpu-fleet
  and schwartz-smith collateral; a forward curve, where given, sets the drift instead).
- `launch_earlier`: the next scheduled generation launch (`launch_dates`) one year earlier
  (at least one day after the valuation date); collateral with launches only by a Poisson
  intensity gets `launch_intensity_up` instead: intensity +0.1 a year.
- `residual`: the collateral value per the model's valuation x 0.99 on the same paths (for a
  fleet valued on its residual curve, the curve x 0.99), per -1%.
- `haircut`: `instrument.liquidation_haircut` +0.01 (on the base paths themselves: the haircut
  moves neither the collateral nor the grid); `lag`: `instrument.liquidation_lag` +0.25 years.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from gpufin.credit.margin import solve_loan_margin
from gpufin.engines.loan import PathCache, fixed_schedule, path_values, prepare, waterfall, waterfall_cash
from gpufin.errors import SpecError
from gpufin.risk.bumps import RATE_BUMP, scale_index, shift_rates
from gpufin.spec.files import read_document
from gpufin.spec.reader import apply_overrides, load_spec

HAZARD_BUMP = 1e-4          # per year: one basis point of default intensity
JTD_HAZARD = 1000.0         # per year after `at`: a default within hours of it
RENT_BUMP = 0.01            # relative index level
TREND_BUMP = 0.01           # log drift a year
LAUNCH_SHIFT = 1.0          # years earlier
EARLIEST_LAUNCH = 1.0 / 365.0   # years: a launch moved earlier stays after the valuation date
INTENSITY_BUMP = 0.1        # launches a year
RESIDUAL_FACTOR = 0.99
HAIRCUT_BUMP = 0.01
LAG_BUMP = 0.25             # years


def _stderr(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / math.sqrt(x.size))


class _Valued:
    """One revaluation: the per-path lender values (USD) and their mean."""

    def __init__(self, values: np.ndarray):
        self.values = values
        self.value = math.fsum(values) / values.size        # as summarize takes the mean


def _valued(run, cache) -> _Valued:
    return _Valued(path_values(run, waterfall(run, cache)[0]))


def _revalue(doc: dict) -> _Valued:
    """The loan of `doc` valued on its own seed and path count."""
    s = load_spec(doc)
    run = prepare(s)
    return _valued(run, PathCache(run, s.mc.paths, s.mc.seed, s.mc.chunk_paths))


def _on_base_paths(doc: dict, cache: PathCache) -> _Valued:
    """The loan of `doc`, whose bump changes only how the waterfall treats the collateral (not
    the collateral, nor the grid), valued on the base paths of `cache`: _revalue's bits
    without simulating the collateral again."""
    return _valued(prepare(load_spec(doc), None, cache.run.collateral), cache)


class _ScaledValue:
    """The base paths with the collateral value times `factor` (cash and going-concern value
    unchanged), for the waterfall: an iterable of chunks with the cache's seed."""

    def __init__(self, cache: PathCache, factor: float):
        self.cache, self.factor, self.seed = cache, factor, cache.seed

    def __iter__(self):
        for first, cash, value, going in self.cache:
            yield first, cash, value * self.factor, going


def _greek(name: str, bumped: _Valued, base: _Valued) -> dict:
    """{name: bumped - base (USD), name_stderr: the standard error of the per-path differences}."""
    return {name: bumped.value - base.value, f"{name}_stderr": _stderr(bumped.values - base.values)}


def loan_greeks(spec, overrides=(), at: float | None = None) -> dict:
    """The loan's value and Greeks (module docstring) with standard errors. `spec` is a path
    or a document, `overrides` (KEY, VALUE) pairs or `KEY=VALUE` texts applied first; `at`
    (years, 0 < at < the last payment) adds jump-to-default at that date."""
    doc = spec if isinstance(spec, dict) else read_document(spec)
    doc = fixed_schedule(apply_overrides(doc, list(overrides)))
    s = load_spec(doc)
    if s.instrument is None or s.instrument.kind != "loan":
        kind = s.instrument.kind if s.instrument is not None else None
        raise SpecError("instrument.kind", f"got {kind!r}; --loan-greeks (loan_greeks) values loans only, "
                                           "expected kind = \"loan\"")
    run = prepare(s)
    cache = PathCache(run, s.mc.paths, s.mc.seed, s.mc.chunk_paths)
    (out, _, _, _), cash = waterfall_cash(run, cache)
    base = _Valued(path_values(run, out))
    maturity = float(run.terms.schedule.pay_times[-1])
    _check_at(at, maturity)
    result = {"value": base.value, "stderr": _stderr(base.values),
              "paths": int(base.values.size), "seed": s.mc.seed, "method": "mc", "instrument": "loan",
              "model": s.model.kind, "maturity_years": maturity}
    if at is not None:
        result["jtd_at_years"] = float(at)
    result.update(_greek("dv01", _revalue(shift_rates(doc, RATE_BUMP)), base))
    dm = solve_loan_margin(cash.times, cash.df, cash.mean, cash.cov, cash.paths, s.market.loan_price)
    result.update(cs01=dm["cs01"], cs01_stderr=dm["cs01_stderr"])
    result.update(_greek("rent_level", _revalue(scale_index(doc, 1.0 + RENT_BUMP)), base))
    for name, bumped in _index_bumps(doc, s):
        result.update(_greek(name, _revalue(bumped), base))
    result.update(_greek("residual", _valued(run, _ScaledValue(cache, RESIDUAL_FACTOR)), base))
    result.update(_greek("haircut", _on_base_paths(_instrument(doc, "liquidation_haircut", HAIRCUT_BUMP,
                                                               s.instrument.liquidation_haircut), cache), base))
    result.update(_greek("lag", _revalue(_instrument(doc, "liquidation_lag", LAG_BUMP,
                                                     s.instrument.liquidation_lag)), base))
    if s.model.kind == "gpu-fleet":
        result.update(_credit_greeks(doc, base, at))
    return result


def _check_at(at, maturity: float) -> None:
    if at is None:
        return
    if not (isinstance(at, (int, float)) and not isinstance(at, bool) and 0.0 < at < maturity):
        raise SpecError("at", f"got {at!r}; expected a time in years inside the loan's life, "
                              f"0 < at < {maturity:g}")


def _instrument(doc: dict, key: str, size: float, current: float) -> dict:
    out = copy.deepcopy(doc)
    out["instrument"][key] = float(current) + size
    return out


def _index_table(doc: dict) -> dict | None:
    """The document's table of index-model keys (long_drift, launches), None for models without."""
    m = doc["model"]
    if m.get("kind") == "gpu-fleet":
        return m.setdefault("index", {})
    return m if m.get("kind") == "schwartz-smith" else None


def _index_bumps(doc: dict, s) -> list[tuple[str, dict]]:
    """(name, bumped document) for the rent trend and the launch timing of this collateral."""
    if _index_table(doc) is None:
        return []
    index = s.model.index if s.model.kind == "gpu-fleet" else s.model
    prefix = "model.index" if s.model.kind == "gpu-fleet" else "model"
    trend = copy.deepcopy(doc)
    _index_table(trend)["long_drift"] = index.long_drift + TREND_BUMP
    bumps = [("rent_trend", trend)]
    launch = copy.deepcopy(doc)
    table = _index_table(launch)
    if index.launch_dates:
        times = sorted(s.timeline.years_list(f"{prefix}.launch_dates"))
        table["launch_dates"] = [max(times[0] - LAUNCH_SHIFT, EARLIEST_LAUNCH), *times[1:]]
        bumps.append(("launch_earlier", launch))
    elif index.launch_intensity > 0.0:
        table["launch_intensity"] = index.launch_intensity + INTENSITY_BUMP
        bumps.append(("launch_intensity_up", launch))
    return bumps


def _names(doc: dict) -> dict[str, list[int]]:
    """Contract indices per customer, named as the fleet model names them."""
    names: dict[str, list[int]] = {}
    for i, c in enumerate(doc["model"].get("contracts", [])):
        names.setdefault(c.get("customer") or f"customer {i}", []).append(i)
    return names


def _hazard_up(entry: dict) -> None:
    curve = entry.get("hazard_curve")
    if curve is not None:
        curve["hazards"] = [float(h) + HAZARD_BUMP for h in curve["hazards"]]
    else:
        entry["default_hazard"] = float(entry.get("default_hazard", 0.0)) + HAZARD_BUMP


def _default_now(entry: dict) -> None:
    entry.pop("hazard_curve", None)
    entry["default_hazard"] = math.inf


def _default_at(at: float):
    def change(entry: dict) -> None:
        entry["default_hazard"] = 0.0
        entry["hazard_curve"] = {"times": [0.0, float(at)], "hazards": [0.0, JTD_HAZARD]}
    return change


def _changed(doc: dict, targets: list, change) -> dict:
    """A copy of `doc` with `change` applied to each target: a contract index or "platform"."""
    out = copy.deepcopy(doc)
    model = out["model"]
    for target in targets:
        change(model["platform"] if target == "platform" else model["contracts"][target])
    return out


def _name_greeks(doc: dict, targets: list, base: _Valued, at, suffix: str = "") -> dict:
    """pd01, jtd and (with `at`) jtd_at of the names `targets`, each key + `suffix`."""
    changes = [("pd01", _hazard_up), ("jtd", _default_now)] + ([("jtd_at", _default_at(at))] if at else [])
    found = {}
    for name, change in changes:
        found.update(_greek(name + suffix, _revalue(_changed(doc, targets, change)), base))
    return found


def _credit_greeks(doc: dict, base: _Valued, at) -> dict:
    """PD01 and jump-to-default per customer (`customer_greeks` rows) and for the platform."""
    names = _names(doc)
    rows = [{"customer": name, **_name_greeks(doc, targets, base, at)} for name, targets in names.items()]
    found = {}
    if rows:
        every = [i for targets in names.values() for i in targets]
        found.update(_greek("pd01_customers", _revalue(_changed(doc, every, _hazard_up)), base))
        found["customer_greeks"] = rows
    if doc["model"].get("platform") is not None:
        found.update(_name_greeks(doc, ["platform"], base, at, suffix="_platform"))
    return found
