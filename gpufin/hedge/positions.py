"""Hedge candidates: derivative specs on the exposure's index, checked before any work.

A candidate file is a trade spec (TOML or JSON). Without a `[model]` table it settles on the
exposure's index (a loan's or fleet's rental index, or the exposure trade's model); without a
`[market]` table it takes the exposure's market, so its times count from the same valuation
date. A candidate whose model is not the exposure's index is refused: the P&Ls must come
from the same paths.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace

from gpufin.engines.montecarlo import SINGLE, LognormalIndex, build_index_set
from gpufin.errors import SpecError
from gpufin.hedge.paths import settled_index
from gpufin.instruments.payoffs import build_plan
from gpufin.market.curve import build_market
from gpufin.spec.files import read_document
from gpufin.spec.reader import validate
from gpufin.spec.times import DAYS_PER_YEAR, add_tenor, parse_date

DEFAULT_START = dt.date(2026, 1, 1)      # tenors count from here without a valuation date
HEDGE_KINDS = ("future", "swap", "cap", "floor", "european", "asian", "future-option", "residual-put")
SCHWARTZ_SMITH_KEYS = {"spot": "spot", "kappa": "mean_reversion", "sigma_chi": "short_vol",
                       "sigma_xi": "long_vol", "rho": "correlation", "mu_xi": "long_drift",
                       "chi0": "short_factor", "launch_intensity": "launch_intensity",
                       "launch_mean": "launch_jump_mean", "launch_vol": "launch_jump_vol",
                       "launch_times": "launch_dates", "spike_intensity": "spike_intensity",
                       "spike_mean": "spike_jump_mean", "spike_vol": "spike_jump_vol"}


@dataclass(frozen=True)
class Candidate:
    """A hedge candidate: its name (the file), validated spec, payoff plan, market and the
    index it settles on."""
    name: str
    spec: object
    plan: object
    market: object
    index: str


def model_table(model) -> dict:
    """The `[model]` table of a TwoFactor index (a fleet's rental index, without its forward
    curve, which the market table carries)."""
    plain = replace(model, forward_times=(), forward_prices=())
    table = {"kind": "schwartz-smith"}
    for name, key in SCHWARTZ_SMITH_KEYS.items():
        value = getattr(plain, name)
        table[key] = list(value) if isinstance(value, tuple) else value
    return table


def fleet_table(fleet) -> dict:
    """The `[model]` table a candidate on a gpu-fleet's paths takes: its index's (model_table),
    or with a basis index a multi-index table of both (the fleet index with its forward curve,
    then the basis index), whose indices are exactly the fleet's (FleetModel.indices)."""
    if fleet.basis is None:
        return model_table(fleet.index)
    base = {k: v for k, v in model_table(fleet.index).items() if k not in ("kind", "correlation")}
    curve = [{"time": t, "price": p} for t, p in zip(fleet.index.forward_times, fleet.index.forward_prices)]
    b = fleet.basis
    basis = {"name": b.name, "basis_of": fleet.index_name, "spot": b.model.spot,
             "mean_reversion": b.model.kappa, "short_vol": b.model.sigma_chi, "basis_level": b.level}
    return {"kind": "multi-index", "indices": [{"name": fleet.index_name, **base, "forward_curve": curve}, basis],
            "correlation": [list(row) for row in fleet.indices().correlation]}


def load_candidates(files, indices, model_doc: dict, market_doc: dict) -> list[Candidate]:
    """The candidates of `files`, each on `indices` (the exposure's index model, as built by
    gpufin.hedge.paths.build_index_set); `model_doc` and `market_doc` fill a candidate's
    missing `[model]` and `[market]`."""
    if not files:
        raise SpecError("--hedge", "missing; give at least one candidate spec file")
    out = []
    for n, path in enumerate(files, start=1):
        key = f"hedge[{n}]"
        doc = read_document(path)
        try:
            s = validate({"model": model_doc, "market": market_doc, **doc})
        except SpecError as exc:
            raise SpecError(f"{key}.{exc.key}", f"{exc.problem} in {path}") from None
        if s.instrument.kind not in HEDGE_KINDS:
            raise SpecError(f"{key}.instrument.kind", f"got {s.instrument.kind!r} in {path}; expected one of "
                                                      f"{', '.join(HEDGE_KINDS)}")
        if s.model.kind == "gpu-fleet":
            raise SpecError(f"{key}.model.kind", f"got 'gpu-fleet' in {path}; expected the exposure's "
                                                 "index model")
        market = build_market(s.market, getattr(s.model, "rate", None), s.timeline)
        _same_model(f"{key}.model", path, build_index_set(s, market), indices)
        out.append(Candidate(str(path), s, build_plan(s.instrument, s.model.spot, s.timeline), market,
                             settled_index(s.instrument)))
    return out


def _same_model(key: str, path, model, indices) -> None:
    """Refuse a candidate whose index model differs from the exposure's, naming the first
    parameter that differs."""
    if model == indices:
        return
    label, got, expected = _difference(model, indices)
    raise SpecError(key, f"got {label} = {got!r} in {path}; expected the exposure's model ({label} = "
                         f"{expected!r}; omit [model] to use it)")


def _difference(a, b) -> tuple[str, object, object]:
    """(label, a's value, b's value) of the first parameter in which two index models differ."""
    if type(a) is not type(b):
        return "kind", type(a).__name__, type(b).__name__
    if isinstance(a, LognormalIndex):
        a, b = a.model, b.model
    else:
        if a.names != b.names:
            return "indices", a.names, b.names
        for name, ma, mb in zip(a.names, a.marginals, b.marginals):
            if ma != mb:
                label, got, expected = _difference_fields(ma, mb)
                return (label if a.names == (SINGLE,) else f"{name}.{label}"), got, expected
        return "correlation", a.correlation, b.correlation
    return _difference_fields(a, b)


def _difference_fields(a, b) -> tuple[str, object, object]:
    name = next(f.name for f in fields(a) if getattr(a, f.name) != getattr(b, f.name))
    return SCHWARTZ_SMITH_KEYS.get(name, name), getattr(a, name), getattr(b, name)


def horizon_years(text: str, valuation_date: str | None) -> tuple[float, str | None]:
    """The horizon in years (ACT/365F) and the date it counted from: a number of years (from
    the valuation date; None), or an ISO date or a tenor (D, W, M, Y) counted from the
    valuation date (None) or, without one, from DEFAULT_START (returned as an ISO date, so
    the result can say so)."""
    try:
        years = float(text)
    except ValueError:
        years = None
    if years is not None:
        return _positive(years, text), None
    start = parse_date(valuation_date, "market.valuation_date") if valuation_date else DEFAULT_START
    try:
        end = dt.date.fromisoformat(str(text).strip())
    except ValueError:
        end = add_tenor(start, str(text), "--horizon")
    return _positive((end - start).days / DAYS_PER_YEAR, text), None if valuation_date else start.isoformat()


def _positive(years: float, text: str) -> float:
    if not years > 0.0:
        raise SpecError("--horizon", f"got {text!r}; expected a time after the valuation date")
    return years


def check_horizon(horizon: float, text: str, maturities: list[float]) -> None:
    """Refuse a horizon after every position's last payment."""
    last = max(maturities)
    if horizon > last:
        raise SpecError("--horizon", f"got {text!r} ({horizon:.4g} years); every position has paid by "
                                     f"{last:.4g} years: expected a horizon before the last maturity")
