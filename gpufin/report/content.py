"""A deal report's text: key figures and tables with units, built from a DealAnalysis.

Every number goes through gpufin.output.tables (`cell`, `frame_tables`), so the report shows
each quantity in the unit and with the digits that `gpufin price` shows it: money in USD
(USD m from ten million), probabilities in %, spreads in bp, a standard error beside its
Monte Carlo estimate as `value ± stderr`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
import platform
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from gpufin.market.data import load_market_data
from gpufin.output.tables import Table, cell, frame_tables
from gpufin.report.analysis import GRID_FIELDS, DealAnalysis
from gpufin.spec.times import DAYS_PER_YEAR
from gpufin.version import __version__

# a result key of each unit, so that cell() shows a number of that unit as the tables do
UNIT_KEYS = {"%": "pd", "bp": "spread", "USD": "value", "yr": "maturity_years", "x": "dscr",
             "USD/GPU-hr": "index"}
ZERO_RATE_YEARS = (1, 2, 3, 5)
MONEY = ("value", "expected_loss")
MILLIONS_FROM = 1e6          # a headline money figure from a million is in USD m, to fit its tile
GRID_TITLES = {"price_pct": "Price (% of par)", "pd": "PD, lifetime (%)"}
AXIS_LABELS = {"model.index.spot": "index spot", "model.spot": "index spot",
               "model.utilization.level": "merchant utilization", "model.vol": "volatility",
               "model.short_vol": "short-term volatility"}


@dataclass(frozen=True)
class KeyFigure:
    """A headline number: its label, value, standard error (or "") and unit."""
    label: str
    value: str
    stderr: str
    unit: str


@dataclass(frozen=True)
class Content:
    """Everything the report shows, as text."""
    title: str
    description: str
    valuation_date: str
    paths: int
    seed: int
    generated: str                 # UTC, to the minute
    key_figures: list[KeyFigure]
    results: Table
    pd_by_year: Table
    terms: Table
    draws: Table
    schedule: Table | None
    collateral: Table
    contracts: Table | None
    collateral_check: Table | None
    market: Table
    stress: Table
    grids: list[Table]
    run: Table
    command: str


def build_content(analysis: DealAnalysis, spec_path, overrides, command: str,
                  spec_comment: list[str]) -> Content:
    """The report's text for `analysis` of the spec at `spec_path` run with `overrides`
    (--set assignments) by `command`."""
    a = analysis
    fleet = a.spec.model.kind == "gpu-fleet"
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    return Content(
        title=f"Deal report: {Path(spec_path).stem}",
        description=_first_paragraph(spec_comment),
        valuation_date=str(a.run.collateral.market.anchor), paths=a.spec.mc.paths, seed=a.spec.mc.seed,
        generated=generated,
        key_figures=_key_figures(a), results=_results(a), pd_by_year=_pd_by_year(a),
        terms=_terms(a), draws=_draws(a), schedule=_schedule(a),
        collateral=_fleet(a) if fleet else _index_model(a),
        contracts=_contracts(a) if fleet and a.run.collateral.model.contracts else None,
        collateral_check=_collateral_check(a.result.get("collateral_check")),
        market=_market(a), stress=_stress(a), grids=[_grid(a, f) for f in GRID_FIELDS],
        run=_run(a, spec_path, overrides, generated), command=command)


def shown(unit: str, value, stderr=None) -> str:
    """`value` (and its stderr) in `unit` as the tables show that unit, without the unit."""
    return cell(UNIT_KEYS[unit], value, stderr).text


def _table(title: str | None, columns: list[str], rows: list[list[str]], right: list[bool]) -> Table:
    return Table(title, columns, [""] * len(columns), rows, right)


def _relabelled(frame: pd.DataFrame, title: str, labels: dict) -> Table:
    """frame_tables' table of `frame` with its columns renamed by `labels`."""
    table = frame_tables(frame, title)[0]
    return replace(table, columns=[labels.get(c, c) for c in table.columns])


def _first_paragraph(lines: list[str]) -> str:
    """The spec comment up to its first blank line, as one line."""
    paragraph = []
    for line in lines:
        if not line.strip():
            break
        paragraph.append(line.strip())
    return " ".join(paragraph)


# ---- results --------------------------------------------------------------------------------

def _key_figures(a: DealAnalysis) -> list[KeyFigure]:
    r = a.result
    fair = a.fair_spread
    items = [("Value", "value", r["value"], r["stderr"]),
             ("Price", "price_pct", r["price_pct"], r["price_pct_stderr"]),
             ("Fair spread", "spread", fair["spread"] if fair else math.nan,
              fair["spread_stderr"] if fair else None),
             ("PD, lifetime", "pd", r["pd"], r["pd_stderr"]),
             ("Expected loss", "expected_loss", r["expected_loss"], r["expected_loss_stderr"]),
             ("LGD", "lgd", r["lgd"], r["lgd_stderr"]),
             ("WAL", "wal", r["wal"], None)]
    figures = []
    for label, key, value, stderr in items:
        c = cell(key, value, stderr, millions=abs(value) >= MILLIONS_FROM if key in MONEY else None)
        text, _, error = c.text.partition(" ± ")
        figures.append(KeyFigure(label, text, f"± {error}" if error else "", c.unit))
    return figures


RESULT_ROWS = (
    ("Value", "value", "PV of the lender's receipts (interest, fees, principal, recoveries) less "
                       "PV of the draws it funds after the valuation date"),
    ("Price", "price_pct", "E[PV of receipts] / E[PV of the draws funded]; 100 = par"),
    ("PD, lifetime", "pd", "probability of a payment default by maturity"),
    ("Covenant breach", "breach_probability", "probability of a first covenant breach by maturity"),
    ("Acceleration", "acceleration_probability", "probability that a breach accelerates the loan"),
    ("Expected loss", "expected_loss", "E[DF(default) x claim - PV of recovery]"),
    ("LGD", "lgd", "expected loss / E[DF(default) x claim]"),
    ("WAL", "wal", "weighted average life of expected principal repayments (a ratio of means)"),
    ("Loss VaR 99%", "loss_var99", "99% quantile of the lifetime PV loss per path"),
    ("Loss ES 99%", "loss_es99", "mean PV loss of the worst 1% of paths"),
)


def _results(a: DealAnalysis) -> Table:
    """Value, price, fair spread, PD, EL, LGD, WAL, loss VaR and ES with their standard errors."""
    r, rows = a.result, []
    for label, key, meaning in RESULT_ROWS:
        c = cell(key, r[key], r.get("stderr" if key == "value" else f"{key}_stderr"))
        rows.append([label, c.text, c.unit, meaning])
    if a.fair_spread:
        c = cell("spread", a.fair_spread["spread"], a.fair_spread["spread_stderr"])
        fair = ["Fair spread", c.text, c.unit, "spread over SOFR that prices the loan at par, solved "
                                               "on the same paths (common random numbers)"]
    else:
        fair = ["Fair spread", "n/a", "", a.fair_spread_note]
    rows.insert(2, fair)
    ins = a.spec.instrument
    if ins.spread is not None:
        rows.insert(3, ["Contract spread", shown("bp", ins.spread), "bp", "spread over SOFR of the loan"])
    else:
        rows.insert(3, ["Contract coupon", shown("%", ins.coupon), "%", "fixed annual coupon of the loan"])
    return _table(f"Monte Carlo estimates, {r['paths']:,} paths, seed {r['seed']}",
                  ["measure", "estimate", "unit", "definition"], rows, [False, True, False, False])


def _pd_by_year(a: DealAnalysis) -> Table:
    """Cumulative payment-default and covenant-breach probabilities by loan year, with
    binomial standard errors, and the PD of each year."""
    r, n = a.result, a.result["paths"]
    pd_cum, breach = np.array(r["pd_by_year"]), np.array(r["breach_by_year"])
    frame = pd.DataFrame({"year": np.arange(1, pd_cum.size + 1),
                          "pd_by_year": pd_cum, "pd_by_year_stderr": np.sqrt(pd_cum * (1 - pd_cum) / n),
                          "pd": np.diff(pd_cum, prepend=0.0),
                          "breach_by_year": breach,
                          "breach_by_year_stderr": np.sqrt(breach * (1 - breach) / n)})
    return _relabelled(frame, "Default and covenant breach by loan year",
                       {"pd_by_year": "PD, cumulative", "pd": "PD in the year",
                        "breach_by_year": "covenant breach, cumulative"})


# ---- terms ----------------------------------------------------------------------------------

def _day(a: DealAnalysis, t: float) -> str:
    """The calendar day of a time in years from the valuation date."""
    return str(a.run.collateral.market.anchor + dt.timedelta(days=round(t * DAYS_PER_YEAR)))


def _optional(unit: str, value, none: str = "none") -> tuple[str, str]:
    return (none, "") if value is None else (shown(unit, value), unit)


def _terms(a: DealAnalysis) -> Table:
    """The loan's terms, each with the spec key it comes from."""
    ins, terms, r = a.spec.instrument, a.run.terms, a.result
    if ins.spread is not None:
        rate = (f"SOFR + {shown('bp', ins.spread)} bp, floor {shown('%', ins.floor)}%", "")
    else:
        rate = (f"fixed {shown('%', ins.coupon)}", "%")
    amortization = {"sculpted": f"sculpted to a base-case DSCR of {shown('x', ins.target_dscr)}x",
                    "sweep": f"cash sweep of {shown('%', terms.sweep_share)}% of excess cash"}
    rows = [
        ("Commitment", shown("USD", terms.commitment), cell("commitment", terms.commitment).unit,
         "instrument.commitment / principal"),
        ("Drawn over the life", shown("USD", terms.drawn), cell("drawn", terms.drawn).unit, "instrument.draws"),
        ("Valuation date", str(a.run.collateral.market.anchor), "", "market.valuation_date"),
        ("Maturity", f"{r['schedule'][-1]['date']} ({shown('yr', r['maturity_years'])} yr)", "",
         "instrument.maturity"),
        ("Interest", *rate, "instrument.spread / coupon, floor"),
        ("First-period all-in rate", shown("%", terms.rates[0]), "%", "forward SOFR + spread"),
        ("Payments", f"{r['payments']} ({ins.payment_frequency})", "", "instrument.payment_frequency"),
        ("Amortization", amortization.get(ins.amortization, ins.amortization), "", "instrument.amortization"),
        ("Commitment fee", shown("%", ins.commitment_fee), "% of undrawn", "instrument.commitment_fee"),
        ("DSCR covenant", *_optional("x", ins.dscr_trigger), "instrument.dscr_trigger"),
        ("DSCR basis", ins.dscr_basis, "", "instrument.dscr_basis"),
        ("LTV covenant", *_optional("%", ins.ltv_trigger), "instrument.ltv_trigger"),
        ("LTV test", ins.ltv_test if isinstance(ins.ltv_test, str) else "on given dates", "",
         "instrument.ltv_test"),
        ("Cash lock-up below DSCR", *_optional("x", ins.lockup_dscr), "instrument.lockup_dscr"),
        ("Event of default", ins.default_on, "", "instrument.default_on"),
        ("Acceleration on breach", ins.acceleration, "", "instrument.acceleration"),
        ("Debt service reserve", f"{ins.reserve_periods:g} period(s) = {shown('USD', a.run.args.reserve0)}",
         cell("value", a.run.args.reserve0).unit, "instrument.reserve_periods"),
        ("Liquidation haircut", shown("%", ins.liquidation_haircut), "%", "instrument.liquidation_haircut"),
        ("Liquidation lag", shown("yr", ins.liquidation_lag), "yr", "instrument.liquidation_lag"),
        ("Workout cost", shown("%", ins.workout_cost), "% of recovery", "instrument.workout_cost"),
    ]
    return _table("Loan terms", ["term", "value", "unit", "spec key"], [list(row) for row in rows],
                  [False, True, False, False])


def _draws(a: DealAnalysis) -> Table:
    terms = a.run.terms
    frame = pd.DataFrame({"date": [_day(a, t) for t in terms.draw_times],
                          "time_years": terms.draw_times, "drawn": terms.draw_amounts})
    return _relabelled(frame, "Draws", {"time_years": "time", "drawn": "amount"})


def _schedule(a: DealAnalysis) -> Table | None:
    """The scheduled principal of the payments that have one (None: no fixed schedule)."""
    rows = [row for row in a.result["schedule"] if row["principal"] > 0.0]
    if not rows:
        return None
    return _relabelled(pd.DataFrame(rows), "Scheduled principal (payments with principal due)",
                       {"time_years": "time"})


# ---- collateral and market ------------------------------------------------------------------

# (label, key under model, unit); `%` values are fractions shown in %
FLEET_ROWS = (
    ("GPU model (SKU)", "sku", ""), ("GPUs financed", "gpus", ""), ("age at valuation", "age_years", "yr"),
    ("spare GPUs", "spare_fraction", "%"), ("permanent failures", "failure_rate", "% per yr"),
    ("all-in cost per GPU", "capex", "USD"), ("collateral valuation", "valuation", ""),
    ("economic life", "economic_life_years", "yr"), ("salvage floor", "salvage_fraction", "% of cost"),
    ("residual elasticity to the long-term rent", "residual_elasticity", ""),
    ("rental index spot", "index.spot", "USD/GPU-hr"),
    ("index mean reversion", "index.mean_reversion", "per yr"),
    ("index short-term vol", "index.short_vol", "per sqrt(yr)"),
    ("index long-term vol", "index.long_vol", "per sqrt(yr)"),
    ("index long-term drift", "index.long_drift", "log per yr"),
    ("generation launches", "index.launch_intensity", "per yr"),
    ("launch jump, mean", "index.launch_jump_mean", "log"),
    ("shortage spikes", "index.spike_intensity", "per yr"),
    ("spike jump, mean", "index.spike_jump_mean", "log"),
    ("merchant utilization, long-run level", "utilization.level", "%"),
    ("utilization vol (logit)", "utilization.vol", "per sqrt(yr)"),
    ("contracted GPUs billed", "utilization.contracted", "%"),
    ("IT power per GPU", "costs.power_kw", "kW"), ("PUE", "costs.pue", ""),
    ("power price", "costs.power_price", "USD/kWh"), ("other operating cost", "costs.other_cost", "USD/GPU-hr"),
)


def _dotted(obj, key: str):
    for part in key.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else getattr(obj, part)
    return obj


def _given(doc: dict, key: str) -> bool:
    """Whether the spec document sets model.`key`."""
    node = doc.get("model", {})
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _number_text(value, unit: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if unit.startswith("%"):
        return shown("%", value)
    return cell("value" if unit == "USD" else "", value).text


def _fleet(a: DealAnalysis) -> Table:
    """The gpu-fleet collateral's inputs as valued, each with where it comes from: the spec,
    the catalog row of its SKU (data/gpus.csv), the market snapshot (data/market.toml) or a
    default of the gpu-fleet model (docs/spec.md, data/SOURCES.md)."""
    data = load_market_data()
    gpu = data.gpu(a.spec.model.sku)
    filled = {"capex": (gpu["capex_usd"], "data/gpus.csv"),
              "index.spot": (gpu["index_spot_usd_per_gpu_hour"], "data/gpus.csv"),
              "costs.power_kw": (gpu["power_kw"], "data/gpus.csv"),
              "costs.power_price": (data.snapshot["power_price_usd_per_kwh"], "data/market.toml")}
    rows = []
    for label, key, unit in FLEET_ROWS:
        value, source = _dotted(a.spec.model, key), "spec" if _given(a.doc, key) else "model default"
        if value is None:
            value, source = filled[key]
        rows.append([label, _number_text(value, unit), unit, source])
    rows.append(["operating cost, all in", _number_text(a.run.collateral.model.opex, ""), "USD/GPU-hr",
                 "power x PUE x price + other"])
    return _table(f"Collateral: gpu-fleet of {a.spec.model.gpus:,} {a.spec.model.sku} "
                  f"({gpu['source_note']})", ["input", "value", "unit", "source"], rows,
                  [False, True, False, False])


def _index_model(a: DealAnalysis) -> Table:
    """An index model's keys as valued (its level is the collateral value)."""
    rows = [[key, _number_text(value, ""), "", "spec" if _given(a.doc, key) else "model default"]
            for key, value in a.spec.model.model_dump().items()
            if value is not None and not isinstance(value, (list, dict))]
    return _table(f"Collateral: {a.spec.model.kind} index model", ["input", "value", "unit", "source"],
                  rows, [False, True, False, False])


def _contracts(a: DealAnalysis) -> Table:
    """The fleet's take-or-pay contracts (times in years from the valuation date); the default
    hazard is the customer's average to the contract's end, Lambda(end) / end (its constant
    hazard, or the mean of its hazard curve)."""
    rows = [[c.customer, shown("%", c.share), shown("USD/GPU-hr", c.rate), shown("yr", c.start),
             shown("yr", c.end), shown("%", c.prepayment), shown("%", float(c.curve().cumulative(c.end)) / c.end)]
            for c in a.run.collateral.model.contracts]
    return Table("Customer contracts",
                 ["customer", "share", "rate", "start", "end", "prepaid", "default hazard"],
                 ["", "% of fleet", "USD/GPU-hr", "yr", "yr", "%", "% per yr, to end"], rows,
                 [False] + [True] * 6)


def _collateral_check(check: dict | None) -> Table | None:
    """One new GPU by the income and residual approach, beside its cost and used prices."""
    if not check:
        return None
    rows = [["all-in cost (capex)", shown("USD", check["capex_usd"])],
            ["income value", shown("USD", check["income_value_usd"])],
            ["residual value", shown("USD", check["residual_value_usd"])]]
    if check.get("used_price_usd"):
        low, high = check["used_price_usd"]
        rows.append([f"used price, {check['used_price_condition']} ({check['used_price_date']}, "
                     "data/used_prices.csv)", f"{shown('USD', low)} - {shown('USD', high)}"])
    return Table("One new GPU today", ["measure", "value"], ["", "USD per GPU"], rows, [False, True])


def _market(a: DealAnalysis) -> Table:
    """Valuation date, the discount curve's quotes and its zero rates."""
    market, fleet = a.run.collateral.market, a.spec.model.kind == "gpu-fleet"
    if a.doc.get("market", {}).get("curve"):
        source = "spec"
    else:
        source = "data/market.toml (illustrative)" if fleet and a.spec.model.rate is None else "spec (model.rate)"
    if a.spec.market.valuation_date:
        dated = "spec"
    else:
        dated = "data/market.toml" if fleet else "none: times in years, dates shown from this day"
    curve = market.curve
    rows = [["valuation date", str(market.anchor), "", dated], ["discount curve", curve.kind, "", source]]
    for table, label in (("deposits", "SOFR deposit"), ("ois", "SOFR OIS")):
        rows += [[f"{label} {q['tenor']}", shown("%", q["rate"]), "%", source]
                 for q in getattr(curve, table)]
    if curve.rate is not None:
        rows.append(["flat rate", shown("%", curve.rate), "%", source])
    for t in ZERO_RATE_YEARS:
        zero = -math.log(float(market.discount(np.array([float(t)]))[0])) / t
        rows.append([f"zero rate {t}Y (continuous)", shown("%", zero), "%", "bootstrapped"])
    return _table("Market", ["input", "value", "unit", "source"], rows, [False, True, False, False])


# ---- stress and sensitivity ------------------------------------------------------------------

def _stress(a: DealAnalysis) -> Table:
    return _relabelled(a.stress, "The deal under the scenarios of data/scenarios.toml",
                       {"pnl": "change", "price_pct": "price", "pd": "PD, lifetime",
                        "breach_probability": "covenant breach",
                        "expected_loss": "expected loss"})


def _grid(a: DealAnalysis, field: str) -> Table:
    """`field` over the grid: the second axis down, the first across."""
    (across, xs), (down, ys) = a.grid_axes
    frame = a.grids[field]
    se = "stderr" if field == "value" else f"{field}_stderr"
    columns = [f"{_axis_label(down)} \\ {_axis_label(across)}"] + [_axis_value(across, x) for x in xs]
    rows = []
    for y in ys:
        points = frame[frame[down] == y].set_index(across)
        rows.append([_axis_value(down, y)] + [cell(field, points.at[x, field], points.at[x, se]).text
                                              for x in xs])
    unit = cell(field, 1.0).unit
    units = [_axis_unit(down)] + [unit] * len(xs)
    return Table(f"{GRID_TITLES[field]} by {_axis_label(across)} ({_axis_unit(across)}) "
                 f"and {_axis_label(down)}", columns, units, rows, [False] + [True] * len(xs))


def _axis_label(key: str) -> str:
    return AXIS_LABELS.get(key, key)


def _axis_unit(key: str) -> str:
    return {"model.utilization.level": "%"}.get(key, "USD/GPU-hr" if key.endswith("spot") else "")


def _axis_value(key: str, value: float) -> str:
    return shown("%", value) if key == "model.utilization.level" else f"{value:,.2f}"


# ---- reproducing the run ---------------------------------------------------------------------

def _run(a: DealAnalysis, spec_path, overrides, generated: str) -> Table:
    """What reproduces the report beside its command: the spec's digest, paths, seed, versions."""
    digest = hashlib.sha256(Path(spec_path).read_bytes()).hexdigest()
    rows = [["spec file", str(spec_path)], ["spec SHA-256", digest],
            ["--set", ", ".join(overrides) or "none"],
            ["paths", f"{a.spec.mc.paths:,}"], ["seed", str(a.spec.mc.seed)],
            ["gpufin version", __version__], ["Python", platform.python_version()],
            ["generated (UTC)", generated]]
    return _table("Reproduce this report", ["item", "value"], rows, [False, False])
