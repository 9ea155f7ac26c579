"""A loan under two measures, side by side: the real-world figures and their rating view, the
discount margin to the market price with its CS01, the risk-neutral price and fair spread,
and the spread decomposition (docs/loans.md, "Two measures").

Keys (the loan engine's own keys keep their meaning: they are the real-world figures):
- real world (`rw_`): `rw_rating_pd` and `rw_rating_el`, the implied ratings of the payment
  PD and of the EL (expected loss / drawn) over the WAL on the idealized table
  (gpufin.credit.rating); `rating`, the loan's actual rating (`instrument.rating`, when given);
  `rw_fair_spread_bp`, the spread over SOFR that prices the loan at par on these paths.
- market price (`dm_`): `dm_price_pct` (`market.loan_price`, percent of par), `dm_bp` the
  discount margin over the curve (continuously compounded, bp a year) at which the loan's
  expected cash by date on the real-world paths is worth that price (gpufin.credit.margin),
  `cs01` (analytic) and `cs01_bumped` (central +-1 bp), price points per bp.
- risk neutral (`rn_`; gpu-fleet collateral only): the rent index on the forward curve (`market.forward_curve`; without
  one, the shipped H100 curve scaled to the fleet's spot), each customer's hazard from its
  CDS or rating curve (`market.customer_credit`, else the shipped deal's anchor in
  data/market.toml `[credit]`; customers with neither keep their real-world hazard), the
  platform's (`model.platform`) from `market.customer_credit` under its name, else the shipped
  deal's platform, and the long-run logit utilization lowered by
  `market.utilization_risk_premium`: `rn_price_pct`, `rn_value`, `rn_pd`, `rn_expected_loss`,
  `rn_fair_spread_bp`, `rn_hazards` (per customer and platform: the flat hazard per year with
  the curve's survival to the loan's maturity T, -ln Q(T) / T) and `rn_hazard_sources`.
- decomposition (`spread_`): expected-loss spread (`rw_fair_spread_bp`), risk premium
  (risk-neutral minus real-world) and residual to the observed spread
  (`market.observed_spread_bp`, else the shipped deal's) (gpufin.credit.decompose).
Every simulated figure has a `_stderr` twin. The fleet simulates each bootstrapped curve
itself, piecewise flat between its nodes.
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from gpufin.credit.decompose import decompose_spread
from gpufin.credit.hazards import HazardCurve
from gpufin.credit.inputs import credit_spec, deal_credit, name_curve
from gpufin.credit.margin import BP, solve_loan_margin
from gpufin.credit.rating import implied_rating
from gpufin.credit.spread import solve_spread
from gpufin.credit.tables import idealized_pd
from gpufin.engines.collateral import Collateral, build_collateral
from gpufin.engines.loan import PathCache, prepare, price_loan, value_loan
from gpufin.errors import SpecError
from gpufin.market.data import load_market_data
from gpufin.models.fleet import HazardCurve as FleetHazardCurve
from gpufin.spec.reader import load_spec
from gpufin.spec.schema import ForwardPoint, Spec

FORWARD_SKU = "H100"          # the SKU of data/market.toml's forward curve


def loan_measures(spec, overrides=()) -> dict:
    """The loan engine's result with the figures of both measures added (keys above). `spec`
    is a path, a document or a Spec; a path named like a deal of data/market.toml `[credit]`
    takes that deal's credit inputs."""
    s = spec if isinstance(spec, Spec) else load_spec(spec, overrides)
    if s.instrument is None or s.instrument.kind != "loan":
        raise SpecError("instrument.kind", "two measures are figures of a loan; expected kind = \"loan\"")
    deal = _shipped_deal(spec)
    _check_rating(s.instrument.rating)
    cache = PathCache(prepare(s), s.mc.paths, s.mc.seed, s.mc.chunk_paths)
    result, cash = value_loan(s, cache)
    result.update(_rating_view(s, result))
    dm = solve_loan_margin(cash.times, cash.df, cash.mean, cash.cov, cash.paths, s.market.loan_price)
    result.update(dm_price_pct=s.market.loan_price, dm_bp=dm["margin_bp"], dm_bp_stderr=dm["margin_stderr"] / BP,
                  cs01=dm["cs01"], cs01_stderr=dm["cs01_stderr"], cs01_bumped=dm["cs01_bumped"])
    floating = s.instrument.spread is not None
    if floating:
        result.update(_prefixed("rw_", _fair_spread(s, cache)))
    if s.model.kind == "gpu-fleet":
        result.update(_risk_neutral(s, deal, floating, cache.run.terms.schedule.pay_times[-1]))
    observed = s.market.observed_spread_bp if s.market.observed_spread_bp is not None else (
        deal.observed_spread_bp if deal else None)
    if observed is not None and "rn_fair_spread_bp" in result:
        parts = decompose_spread(result["rw_fair_spread_bp"], result["rn_fair_spread_bp"], observed)
        result.update(observed_spread_bp=observed, spread_el_bp=parts["expected_loss_bp"],
                      spread_risk_premium_bp=parts["risk_premium_bp"], spread_residual_bp=parts["residual_bp"])
    return result


def _shipped_deal(spec):
    """The `[credit]` deal of data/market.toml named like the spec's file, or None."""
    if not isinstance(spec, (str, Path)):
        return None
    snapshot = load_market_data().snapshot
    deals = {d.deal for d in credit_spec(snapshot).deals}
    stem = Path(spec).stem
    return deal_credit(snapshot, stem) if stem in deals else None


def _check_rating(rating: str | None) -> None:
    ratings = list(idealized_pd())
    if rating is not None and rating not in ratings:
        raise SpecError("instrument.rating", f"got {rating!r}; expected a rating of Moody's scale: "
                                             f"{', '.join(ratings)}")


def _rating_view(s: Spec, result: dict) -> dict:
    """The implied ratings of the real-world PD and EL over the WAL, next to the actual one."""
    view = {"rating": s.instrument.rating} if s.instrument.rating is not None else {}
    wal = result["wal"]
    if math.isfinite(wal) and wal > 0:
        el = min(max(result["expected_loss"] / result["drawn"], 0.0), 1.0)
        view.update(rw_rating_pd=implied_rating(pd=result["pd"], wal_years=wal).rating,
                    rw_rating_el=implied_rating(el=el, wal_years=wal).rating, rw_el_fraction=el)
    return view


def _fair_spread(s: Spec, cache: PathCache) -> dict:
    solved = solve_spread(s, cache=cache)
    return {"fair_spread_bp": solved["spread"] / BP, "fair_spread_bp_stderr": solved["spread_stderr"] / BP}


def _prefixed(prefix: str, figures: dict) -> dict:
    return {prefix + k: v for k, v in figures.items()}


def _risk_neutral(s: Spec, deal, floating: bool, maturity: float) -> dict:
    """The loan priced on the risk-neutral fleet: price, PD, EL and (floating) fair spread;
    `maturity` is the loan's last payment time in years."""
    rn_spec = s.with_market(s.market.model_copy(update={"forward_curve": _forward_curve(s)}))
    collateral = build_collateral(rn_spec)
    model = collateral.model
    curves, sources = _market_curves(s, collateral, deal)
    contracts = tuple(replace(c, default_hazard=0.0, hazard_curve=_fleet_curve(curves[c.customer]))
                      if c.customer in curves else c for c in model.contracts)
    platform = model.platform
    if platform is not None and platform.name in curves:
        platform = replace(platform, curve=_fleet_curve(curves[platform.name]))
    model = replace(model, contracts=contracts, platform=platform,
                    util_theta=model.util_theta - s.market.utilization_risk_premium)
    collateral = replace(collateral, model=model)
    cache = PathCache(prepare(rn_spec, None, collateral), s.mc.paths, s.mc.seed, s.mc.chunk_paths)
    priced = price_loan(rn_spec, None, cache)
    figures = {k: priced[k] for k in ("price_pct", "price_pct_stderr", "value", "stderr", "pd", "pd_stderr",
                                      "expected_loss", "expected_loss_stderr")}
    figures["value_stderr"] = figures.pop("stderr")
    if floating:
        figures.update(_fair_spread(rn_spec, cache))
    named = {c.customer: c.curve() for c in contracts} | ({platform.name: platform.curve} if platform else {})
    hazards = {name: float(curve.cumulative(maturity)) / maturity for name, curve in named.items()}
    figures.update(hazards=hazards, hazard_sources=sources)
    return _prefixed("rn_", figures)


def _forward_curve(s: Spec) -> list[ForwardPoint]:
    """The spec's forward curve, else data/market.toml's (an H100 curve) scaled to the fleet's
    spot: the same relative term structure for every SKU (an estimate)."""
    if s.market.forward_curve:
        return s.market.forward_curve
    md = load_market_data()
    spot = s.model.index.spot or md.gpu(s.model.sku)["index_spot_usd_per_gpu_hour"]
    scale = spot / md.gpu(FORWARD_SKU)["index_spot_usd_per_gpu_hour"]
    return [ForwardPoint(time=p["time"], price=p["price"] * scale) for p in md.market_table()["forward_curve"]]


def _market_curves(s: Spec, collateral: Collateral, deal) -> tuple[dict, dict]:
    """The bootstrapped hazard curve of each fleet customer and of the platform that has market
    credit (`market.customer_credit` by name, else the shipped deal's anchor for customers and
    its platform for `model.platform`), and where every name's hazard came from."""
    customers = list(dict.fromkeys(c.customer for c in collateral.model.contracts))
    platform = collateral.model.platform
    names = customers + ([platform.name] if platform is not None else [])
    sources = dict.fromkeys(names, "real-world")
    handle = collateral.market.curve_handle()
    curves = {}
    for i, entry in enumerate(s.market.customer_credit):
        key = f"market.customer_credit[{i}]"
        if entry.name not in names:
            raise SpecError(f"{key}.name", f"got {entry.name!r}; expected a customer of model.contracts or "
                                           f"model.platform.name: {', '.join(map(repr, names)) or 'none'}")
        curves[entry.name], sources[entry.name] = name_curve(entry, handle, key=key), "market.customer_credit"
    if deal is not None:
        defaults = {c: deal.anchor for c in customers if deal.anchor is not None}
        if platform is not None:
            defaults[platform.name] = deal.platform
        for name, entry in defaults.items():
            if name not in curves:
                curves[name] = name_curve(entry, handle)
                sources[name] = f"market.credit deal {deal.deal}: {entry.name}"
    return curves, sources


def _fleet_curve(curve: HazardCurve) -> FleetHazardCurve:
    """A bootstrapped curve (hazards[k] up to times[k], the last flat beyond) as the fleet's
    piecewise-flat curve (hazards[k] from times[k])."""
    return FleetHazardCurve((0.0, *curve.times[:-1]), tuple(curve.hazards))
