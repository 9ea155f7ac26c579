"""Positions priced a chunk at a time, by the same `price_many` code path as one trade.

A chunk is a pure function of its positions and options: every position and bump of a chunk
is priced in one price_many call, so trades on the same underlying and dates share their
simulated paths, and in-process and distributed runs give identical rows. Delta and vega
come with the position's own value where price_many has an estimator for them (pathwise in
the Monte Carlo pass, or the closed form's derivatives); other Greeks, and delta and vega of
barriers, loans and fleets, by bump and revalue (gpufin.risk.bumps). Loan rows add the loan
Greeks of gpufin.risk.loan_greeks (columns LOAN_COLUMNS, NaN on other rows).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from gpufin.engines.loan import fixed_schedule, loan_value_only
from gpufin.engines.pricing import has_greek_estimator, has_moved_pricing, price_many, price_moved
from gpufin.errors import SpecError
from gpufin.market.curve import build_market
from gpufin.risk.bumps import (apply_scenario, greek_bumps, greek_moves, greeks, is_fleet,
                               shift_rates, spot_of, traded_sku)
from gpufin.risk.loan_greeks import loan_greeks
from gpufin.risk.loan_moves import fleet_loan, loan_scenario_values
from gpufin.spec.book import Position
from gpufin.spec.reader import load_spec, validate
from gpufin.spec.schema import Spec

GREEK_COLUMNS = ("delta", "gamma", "vega", "dv01", "util", "jump", "opex")
ESTIMATED = ("delta", "vega")       # taken from the base result when it has them
# loan rows' Greeks (gpufin.risk.loan_greeks; NaN on other rows): column -> result key
LOAN_GREEKS = {"loan_cs01": "cs01", "loan_pd01": "pd01_customers", "loan_pd01_platform": "pd01_platform",
               "loan_jtd_platform": "jtd_platform", "loan_rent_level": "rent_level",
               "loan_rent_trend": "rent_trend", "loan_launch_earlier": "launch_earlier",
               "loan_launch_intensity_up": "launch_intensity_up", "loan_residual": "residual",
               "loan_haircut": "haircut", "loan_lag": "lag"}
LOAN_COLUMNS = tuple(c + suffix for c in (*LOAN_GREEKS, "loan_jtd_largest") for suffix in ("", "_stderr"))


def _prepared(doc: dict, options: dict) -> tuple[dict, object]:
    """The position's document as valued, and its validated Spec: the run's market and path
    count applied, and a loan's principal schedule written in, so every bump and scenario
    values the same contract. Validated once, before any bump reads the document, as
    `gpufin price` checks it. The document is plain JSON data throughout (as load_spec makes
    it), so it is validated as it is."""
    doc = _plain(doc)
    if options.get("market") is not None:     # its keys replace the trade's; a forward curve stays
        doc["market"] = _plain({**doc.get("market", {}), **options["market"]})
    if options.get("paths") is not None:
        doc.setdefault("mc", {})["paths"] = _plain(options["paths"])
    spec = validate(doc)
    fixed = fixed_schedule(doc)
    return fixed, (spec if fixed is doc else load_spec(fixed))


def _plain(value):
    """A copy of `value` as JSON data (dates and other objects as their text), as load_spec
    reads a document."""
    return json.loads(json.dumps(value, default=str))


def position_spec(pos: Position, options: dict):
    """The validated spec of a position as the book's commands value it (run options applied)."""
    return _prepared(pos.doc, options)[1]


def _describe(exc: Exception) -> str:
    if isinstance(exc, SpecError):
        return str(exc)
    return f"pricing failed: {type(exc).__name__}: {exc}"


def position_row(pos: Position) -> dict:
    row = {"id": pos.id, **{t: pos.tags.get(t) for t in ("book", "counterparty", "sku")},
           "quantity": pos.quantity, "duplicate_id": pos.tags.get("duplicate_id") == "true"}
    doc = pos.doc or {}
    row["instrument"] = doc.get("instrument", {}).get("kind")
    row["model"] = doc.get("model", {}).get("kind")
    if row["sku"] is None:
        row["sku"] = _model_sku(doc)
    return row


def _model_sku(doc: dict) -> str | None:
    """The SKU a trade's model names: a gpu-fleet's, or that of the index a multi-index trade
    settles on (None where the trade names no index of its model: valuing it says why)."""
    if is_fleet(doc):
        return doc["model"].get("sku")
    try:
        return traded_sku(doc)
    except SpecError:
        return None


def _failure(result) -> str | None:
    return _describe(result) if isinstance(result, Exception) else None


@dataclass
class _Batch:
    """What a chunk prices at once: specs and bumped documents for price_many (with whether
    each wants its Greeks), trades with their moves for price_moved, loans on gpu-fleets with
    their shocks for loan_scenario_values, other loans' scenario and bumped documents revalued
    for their values alone, and the discount curves built so far (by _markets)."""
    docs: list = field(default_factory=list)
    wanted: list = field(default_factory=list)
    moved: list = field(default_factory=list)
    loans: list = field(default_factory=list)
    revalued: list = field(default_factory=list)
    markets: dict = field(default_factory=dict)


def _document_key(doc: dict) -> str:
    """A position's document as text: equal for equal documents, which value alike."""
    return json.dumps(doc, sort_keys=True, default=str)


def value_chunk(positions: list, options: dict) -> list[dict]:
    """Result rows of a chunk: value and standard error (times quantity), Greeks, or the error.
    Every position and bump of the chunk is priced in one price_many call, so trades on the
    same underlying and dates share their simulated paths; delta and vega come from the
    position's own result where it has them. The spot and rate bumps of payoffs on index
    models are valued on the base model's paths by price_moved (the same values as revaluing
    the bumped documents, to rounding). Positions with the same document (the same trade in
    several rows) are validated and priced once: each gets the numbers it would get alone."""
    rows, plans, planned, batch = [], [], {}, _Batch()
    with_greeks = options.get("greeks", True)
    for pos in positions:
        row = position_row(pos)
        row.update(unit_value=math.nan, value=math.nan, stderr=math.nan, method=None,
                   **{g: math.nan for g in GREEK_COLUMNS}, **dict.fromkeys(LOAN_COLUMNS, math.nan),
                   error=pos.error)
        rows.append(row)
        plan = None
        if not pos.error:
            key = _document_key(pos.doc)
            if key not in planned:
                planned[key] = _value_plan(pos.doc, options, with_greeks, batch)
            plan = planned[key]
            if isinstance(plan, str):
                row["error"], plan = plan, None
        plans.append(plan)
    priced = price_many(batch.docs, batch.wanted)
    by_how = {"moved": price_moved(batch.moved), "revalued": [_loan_values(docs) for docs in batch.revalued]}
    for pos, row, plan in zip(positions, rows, plans):
        if plan is None:
            continue
        start, spot, names, at = plan
        base = priced[start]
        row["error"] = _failure(base)
        if row["error"]:
            continue
        row.update(unit_value=base["value"], value=pos.quantity * base["value"],
                   stderr=abs(pos.quantity) * base["stderr"], method=base["method"])
        if at is None:
            bumped = priced[start + 1:start + 1 + len(names)]
            failed = next((r for r in bumped if isinstance(r, Exception)), None)
            values = None if failed is not None else [r["value"] for r in bumped]
        else:
            values = by_how[at[0]][at[1]]
            failed = values if isinstance(values, Exception) else None
        if failed is not None:
            row["error"] = f"Greeks: {_describe(failed)}"
        elif names:
            found = greeks(base["value"], dict(zip(names, values)), spot)
            if base.get("greeks_method") in ("pathwise", "analytic"):
                found.update({k: base[k] for k in ESTIMATED})
            row.update({k: pos.quantity * v for k, v in found.items()})
            if row["instrument"] == "loan":
                _add_loan_greeks(row, pos, options)
    return rows


def _value_plan(doc: dict, options: dict, with_greeks: bool, batch: _Batch) -> tuple | str:
    """A position's valuation added to `batch`: (where its base result is in price_many's, its
    spot, the names of its bumps or moves, and where their values are: ("moved", its place in
    price_moved's), ("revalued", its place in the loans valued alone) or None, after the base
    in price_many's), or why it cannot be valued."""
    try:
        doc, spec = _prepared(doc, options)
        estimated = with_greeks and _estimated(doc)
        if estimated and _movable(doc):
            bumps, moves = {"spot": spot_of(doc)}, greek_moves()
            factors, shifts = zip(*moves.values())
            batch.moved.append((spec, list(zip(factors, _markets(doc, shifts, batch.markets, spec)))))
        else:
            bumps = greek_bumps(doc, vega=not estimated) if with_greeks else {"spot": None}
            moves = None
    except Exception as exc:
        return _describe(exc)
    spot = bumps.pop("spot")
    start, names = len(batch.docs), list(moves or bumps)
    batch.docs.append(spec)
    batch.wanted.append(estimated)
    if moves:
        return start, spot, names, ("moved", len(batch.moved) - 1)
    if spec.instrument.kind == "loan":         # its bumps' values alone
        batch.revalued.append(list(bumps.values()))
        return start, spot, names, ("revalued", len(batch.revalued) - 1)
    batch.docs += list(bumps.values())
    batch.wanted += [False] * len(bumps)
    return start, spot, names, None


def _add_loan_greeks(row: dict, pos: Position, options: dict) -> None:
    """The loan Greeks of a loan row (times the quantity, in USD; loan_cs01 stays in price points
    per bp, a figure per loan), on the document as valued: `loan_jtd_largest` is the customer
    whose default today costs most."""
    try:
        found = loan_greeks(_prepared(pos.doc, options)[0])
    except Exception as exc:
        row["error"] = f"loan Greeks: {_describe(exc)}"
        return
    worst = min(found.get("customer_greeks", []), key=lambda r: r["jtd"], default=None)
    if worst is not None:
        found.update(jtd_largest=worst["jtd"], jtd_largest_stderr=worst["jtd_stderr"])
    keys = {**LOAN_GREEKS, "loan_jtd_largest": "jtd_largest"}
    for column, key in keys.items():
        scale = 1.0 if key == "cs01" else pos.quantity
        for suffix, factor in (("", scale), ("_stderr", abs(scale))):
            row[column + suffix] = factor * found.get(key + suffix, math.nan)


def _estimated(doc: dict) -> bool:
    """Whether price_many gives this position's delta and vega with its value."""
    return has_greek_estimator(doc.get("instrument", {}).get("kind"), doc.get("model", {}).get("kind"))


def scenario_chunk(positions: list, options: dict) -> list[dict]:
    """Per position: base unit value and unit values under each scenario's shocks. Payoffs on
    index models are valued under all scenarios at once on the base model's paths
    (price_moved: the same values as revaluing each moved document, to rounding), loans on
    gpu-fleets moved by index factors, rate shifts and power prices from a few fleet runs
    (gpufin.risk.loan_moves: the same values to rounding); other scenarios of loans, and
    barriers, by full revaluation of each moved document. Positions with the same document
    and SKU are valued once."""
    names = list(options["scenarios"])
    rows, starts, planned, batch = [], [], {}, _Batch()
    for pos in positions:
        row = position_row(pos)
        row["error"] = pos.error
        row["unit_values"] = {}
        rows.append(row)
        start = None
        if not pos.error:
            key = (_document_key(pos.doc), row["sku"])      # a VaR move is the SKU's
            if key not in planned:
                planned[key] = _scenario_plan(pos.doc, row, options, names, batch)
            start = planned[key]
            if isinstance(start, str):
                row["error"], start = start, None
        starts.append(start)
    priced = price_many(batch.docs)
    by_how = {"moved": price_moved(batch.moved),
              "loan": [_moved_loan(doc, moves) for doc, moves in batch.loans],
              "revalued": [_loan_values(docs) for docs in batch.revalued]}
    for row, start in zip(rows, starts):
        if start is None:
            continue
        how, at = start
        if how in by_how:
            values = by_how[how][at]
            failed = values if isinstance(values, Exception) else None
        else:
            results = priced[at:at + 1 + len(names)]
            failed = next((r for r in results if isinstance(r, Exception)), None)
            values = None if failed is not None else [r["value"] for r in results]
        if failed is not None:
            row["error"] = _describe(failed)
            continue
        row["unit_values"] = dict(zip(["base", *names], values))
    return rows


def _scenario_plan(doc: dict, row: dict, options: dict, names: list, batch: _Batch) -> tuple | str:
    """A position's scenario values added to `batch`: ("moved", its place in price_moved's),
    ("loan", its place in the moved loans'), ("revalued", its place in the loans revalued in
    full) or ("full", where its base and scenario results start in price_many's), or why it
    cannot be valued."""
    try:
        doc, spec = _prepared(doc, options)
        shocks = [{}] + [_position_shocks(row, options["scenarios"][n]) for n in names]
        if _movable(doc):
            markets = _markets(doc, [k.get("rate_shift") for k in shocks], batch.markets, spec)
            batch.moved.append((spec, [(float(k.get("index_factor", 1.0)), market)
                                       for k, market in zip(shocks, markets)]))
            return "moved", len(batch.moved) - 1
        if fleet_loan(doc):
            batch.loans.append((doc, shocks))
            return "loan", len(batch.loans) - 1
        revalued = [apply_scenario(doc, k) for k in shocks[1:]]
    except Exception as exc:
        return _describe(exc)
    if spec.instrument.kind == "loan":
        batch.revalued.append([spec, *revalued])
        return "revalued", len(batch.revalued) - 1
    batch.docs += [spec, *revalued]
    return "full", len(batch.docs) - 1 - len(revalued)


def _loan_values(docs: list):
    """The values (USD) of a loan's documents or validated specs (scenario or bumped), each
    revalued in full for its value alone, or the exception that stopped them (one loan's
    failure never sinks the others)."""
    try:
        return [loan_value_only(d if isinstance(d, Spec) else load_spec(d)) for d in docs]
    except Exception as exc:
        return exc


def _moved_loan(doc: dict, shocks: list):
    """loan_scenario_values, or the exception that stopped it (one loan's failure never sinks
    the others)."""
    try:
        return loan_scenario_values(doc, shocks)
    except Exception as exc:
        return exc


def _movable(doc: dict) -> bool:
    """Whether price_moved values this position under scenarios."""
    return has_moved_pricing(doc.get("instrument", {}).get("kind"), doc.get("model", {}).get("kind"))


def _markets(doc: dict, rate_shifts, built: dict, spec) -> list:
    """The discount curve of the document (validated as `spec`) with its rates shifted by each
    of `rate_shifts` (None: as it is), each built once per chunk for each market, model rate
    and shift."""
    where = json.dumps([doc.get("market"), doc.get("model", {}).get("rate")], sort_keys=True, default=str)
    markets = []
    for shift in rate_shifts:
        key = (where, shift)
        if key not in built:
            s = spec if shift is None else load_spec(shift_rates(doc, shift))
            built[key] = build_market(s.market, s.model.rate, s.timeline)
        markets.append(built[key])
    return markets


def _position_shocks(row: dict, shocks: dict) -> dict:
    """Per-SKU index factors (VaR moves) resolved to this position's SKU."""
    factors = shocks.get("index_factor_by_sku")
    if factors is None:
        return shocks
    out = {k: v for k, v in shocks.items() if k != "index_factor_by_sku"}
    out["index_factor"] = factors.get(row["sku"] or "index", factors.get("index", 1.0))
    return out


# instrument keys that set what a trade pays but not when it is observed
PAYOFF_TERMS = ("strike", "fixed_rate", "notional", "position", "option")


def underlying_order(positions: list) -> list[int]:
    """Indices of the positions, ordered (stably) so that those on one model, market and
    observation schedule fall in the same chunks, where they share simulated paths."""
    def key(i):
        doc = positions[i].doc or {}
        schedule = {k: v for k, v in (doc.get("instrument") or {}).items() if k not in PAYOFF_TERMS}
        return json.dumps([doc.get("model"), doc.get("market"), doc.get("mc"), schedule],
                          sort_keys=True, default=str)
    return sorted(range(len(positions)), key=key)


def in_chunks(positions: list, order: list[int], size: int) -> list[list]:
    """The positions, in `order`, in chunks of `size`."""
    ordered = [positions[i] for i in order]
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def in_book_order(rows: list[dict], order: list[int]) -> list[dict]:
    """Rows computed in `order`, put back in book order (by position, not by id: ids may
    repeat)."""
    out = [None] * len(rows)
    for i, row in zip(order, rows):
        out[i] = row
    return out
