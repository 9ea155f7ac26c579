"""Books valued, stressed and put through VaR by the same `price` code path as one trade.

Work is split into chunks of positions; a chunk is a pure function of its positions and
options, so in-process runs, local Dask clusters (`workers`) and existing clusters
(`scheduler`) give identical rows. With `checkpoint`, each finished chunk is written to its
own file (named by a digest of the book and options), and a restarted run recomputes only
missing chunks. Outputs appear only when complete (a temporary file, then a rename).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from gpufin.book import Position, load_book
from gpufin.errors import SpecError
from gpufin.spec import read_document

GREEK_COLUMNS = ("delta", "gamma", "vega", "dv01", "util", "jump", "opex")
GROUPS = ("book", "counterparty", "sku", "instrument")
CHUNK = 256          # positions per chunk (the default of --chunk)


# ---- one position ------------------------------------------------------------------------------

def _prepare(doc: dict, options: dict) -> dict:
    doc = json.loads(json.dumps(doc, default=str))
    if options.get("market") is not None:     # its keys replace the trade's; a forward curve stays
        doc["market"] = {**doc.get("market", {}), **options["market"]}
    if options.get("paths") is not None:
        doc.setdefault("mc", {})["paths"] = options["paths"]
    return doc


def _describe(exc: Exception) -> str:
    if isinstance(exc, SpecError):
        return str(exc)
    return f"pricing failed: {type(exc).__name__}: {exc}"


def _row(pos: Position) -> dict:
    row = {"id": pos.id, **{t: pos.tags.get(t) for t in ("book", "counterparty", "sku")},
           "quantity": pos.quantity}
    doc = pos.doc or {}
    row["instrument"] = doc.get("instrument", {}).get("kind")
    row["model"] = doc.get("model", {}).get("kind")
    if row["sku"] is None:
        row["sku"] = doc.get("model", {}).get("sku") if row["model"] == "gpu-fleet" else None
    return row


def _failure(result) -> str | None:
    return _describe(result) if isinstance(result, Exception) else None


def value_chunk(positions: list, options: dict) -> list[dict]:
    """Result rows of a chunk: value and standard error (times quantity), Greeks, or the error.
    Every position and bump of the chunk is priced in one price_many call, so trades on the
    same underlying and dates share their simulated paths."""
    from gpufin.pricing import price_many
    from gpufin.risk import greek_bumps, greeks
    rows, docs, plans = [], [], []
    for pos in positions:
        row = _row(pos)
        row.update(unit_value=math.nan, value=math.nan, stderr=math.nan, method=None,
                   **{g: math.nan for g in GREEK_COLUMNS}, error=pos.error)
        rows.append(row)
        if pos.error:
            plans.append(None)
            continue
        try:
            doc = _prepare(pos.doc, options)
            bumps = greek_bumps(doc) if options.get("greeks", True) else {"spot": None}
        except Exception as exc:
            row["error"] = _describe(exc)
            plans.append(None)
            continue
        spot = bumps.pop("spot")
        plans.append((len(docs), spot, list(bumps)))
        docs += [doc, *bumps.values()]
    priced = price_many(docs)
    for pos, row, plan in zip(positions, rows, plans):
        if plan is None:
            continue
        start, spot, names = plan
        base = priced[start]
        row["error"] = _failure(base)
        if row["error"]:
            continue
        row.update(unit_value=base["value"], value=pos.quantity * base["value"],
                   stderr=abs(pos.quantity) * base["stderr"], method=base["method"])
        bumped = dict(zip(names, priced[start + 1:start + 1 + len(names)]))
        failed = next((r for r in bumped.values() if isinstance(r, Exception)), None)
        if failed is not None:
            row["error"] = f"Greeks: {_describe(failed)}"
        elif names:
            values = {k: r["value"] for k, r in bumped.items()}
            row.update({k: pos.quantity * v for k, v in greeks(base["value"], values, spot).items()})
    return rows


def scenario_chunk(positions: list, options: dict) -> list[dict]:
    """Per position: base unit value and unit values under each scenario's shocks."""
    from gpufin.pricing import price_many
    from gpufin.risk import apply_scenario
    names = list(options["scenarios"])
    rows, docs, starts = [], [], []
    for pos in positions:
        row = _row(pos)
        row["error"] = pos.error
        rows.append(row)
        starts.append(None)
        if pos.error:
            continue
        try:
            doc = _prepare(pos.doc, options)
            moved = [apply_scenario(doc, _position_shocks(row, options["scenarios"][n])) for n in names]
        except Exception as exc:
            row["error"] = _describe(exc)
            continue
        starts[-1] = len(docs)
        docs += [doc, *moved]
    priced = price_many(docs)
    for row, start in zip(rows, starts):
        row["unit_values"] = {}
        if start is None:
            continue
        results = priced[start:start + 1 + len(names)]
        failed = next((r for r in results if isinstance(r, Exception)), None)
        if failed is not None:
            row["error"] = _describe(failed)
            continue
        row["unit_values"] = dict(zip(["base", *names], (r["value"] for r in results)))
    return rows


def _position_shocks(row: dict, shocks: dict) -> dict:
    """Per-SKU index factors (VaR moves) resolved to this position's SKU."""
    factors = shocks.get("index_factor_by_sku")
    if factors is None:
        return shocks
    out = {k: v for k, v in shocks.items() if k != "index_factor_by_sku"}
    out["index_factor"] = factors.get(row["sku"] or "index", factors.get("index", 1.0))
    return out


# ---- running chunks ----------------------------------------------------------------------------

def _digest(book_path, positions: list, options: dict, kind: str) -> str:
    """Names a run's checkpoints: the book, every position's resolved spec (so an edited spec
    file counts), the options, the chunk size and the gpufin version."""
    from gpufin import __version__
    h = hashlib.sha256(Path(book_path).read_bytes())
    h.update(json.dumps([kind, __version__, options, [p.doc for p in positions]],
                        sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def run_chunks(fn, chunks: list, options: dict, workers=None, scheduler=None, checkpoint=None,
               digest="", label="positions") -> list[dict]:
    """fn(chunk, options) over every chunk, in order; checkpointed and distributed as asked."""
    folder = Path(checkpoint) if checkpoint else None
    done = {}
    if folder:
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(len(chunks)):
            path = folder / f"{digest}-{i:05d}.json"
            if path.exists():
                done[i] = json.loads(path.read_text())
    pending = [i for i in range(len(chunks)) if i not in done]
    bar = _progress(len(chunks), len(done), label)

    def finish(i, rows):
        done[i] = rows
        if folder:
            _write_atomic(folder / f"{digest}-{i:05d}.json", json.dumps(rows, default=_jsonable))
        bar.update(1)

    try:
        if workers or scheduler:
            _run_dask(fn, chunks, options, pending, finish, workers, scheduler)
        else:
            for i in pending:
                finish(i, fn(chunks[i], options))
    finally:
        bar.close()
    return [row for i in range(len(chunks)) for row in done[i]]


def _jsonable(value):
    return value.item() if hasattr(value, "item") else str(value)


def _run_dask(fn, chunks, options, pending, finish, workers, scheduler):
    from dask.distributed import Client, LocalCluster, as_completed
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, env={"NUMBA_NUM_THREADS": "1"})
        client = Client(cluster)
    try:
        futures = {client.submit(fn, chunks[i], options, pure=False): i for i in pending}
        for future in as_completed(futures):
            finish(futures[future], future.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _progress(total: int, initial: int, label: str):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, unit="chunk", desc=label, file=sys.stderr,
                disable=not sys.stderr.isatty(), leave=False)


def _write_atomic(path: Path, text: str | None = None, frame: pd.DataFrame | None = None):
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if frame is None:
            tmp.write_text(text)
        elif path.suffix.lower() == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SpecError(str(path), f"cannot write the file ({exc.strerror})") from None


# instrument keys that set what a trade pays but not when it is observed
PAYOFF_TERMS = ("strike", "fixed_rate", "notional", "position", "option")


def _underlying_order(positions: list) -> list[int]:
    """Indices of the positions, ordered (stably) so that those on one model, market and
    observation schedule fall in the same chunks, where they share simulated paths."""
    def key(i):
        doc = positions[i].doc or {}
        schedule = {k: v for k, v in (doc.get("instrument") or {}).items() if k not in PAYOFF_TERMS}
        return json.dumps([doc.get("model"), doc.get("market"), doc.get("mc"), schedule],
                          sort_keys=True, default=str)
    return sorted(range(len(positions)), key=key)


def _chunks(positions: list, order: list[int], size: int) -> list[list]:
    """The positions, in `order`, in chunks of `size`."""
    ordered = [positions[i] for i in order]
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def _in_book_order(rows: list[dict], order: list[int]) -> list[dict]:
    """Rows computed in `order`, put back in book order (by position, not by id: ids may
    repeat)."""
    out = [None] * len(rows)
    for i, row in zip(order, rows):
        out[i] = row
    return out


def _options(market_file=None, paths=None, chunk=None, **extra) -> dict:
    chunk = CHUNK if chunk is None else chunk
    if not isinstance(chunk, int) or chunk < 1:
        raise SpecError("--chunk", f"got {chunk!r}; expected a whole number of positions >= 1")
    market = None
    if market_file:
        doc = read_document(market_file)
        market = doc.get("market", doc)
    return {"market": market, "paths": paths, "chunk": chunk, **extra}


def _check_output(path) -> Path:
    out = Path(path)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise SpecError("--out", f"got {str(path)!r}; expected a .csv or .parquet file")
    return out


# ---- commands ---------------------------------------------------------------------------------

def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Sums of value and Greeks by book, counterparty, SKU and instrument kind."""
    def total(values):            # NaN only when nothing in the group has the quantity
        return float(values.sum(min_count=1))

    frames = []
    for group in GROUPS:
        keys = results[group].fillna("(none)")
        agg = results.assign(key=keys).groupby("key", sort=True).agg(
            positions=("id", "size"), errors=("error", lambda e: int(e.notna().sum())),
            value=("value", total), **{g: (g, total) for g in GREEK_COLUMNS})
        frames.append(agg.reset_index().rename(columns={"key": "name"}).assign(by=group))
    total = results.agg({"value": total, **{g: total for g in GREEK_COLUMNS}})
    frames.append(pd.DataFrame([{"by": "total", "name": "all", "positions": len(results),
                                 "errors": int(results["error"].notna().sum()), **total.to_dict()}]))
    summary = pd.concat(frames, ignore_index=True)
    return summary[["by", "name", "positions", "errors", "value", *GREEK_COLUMNS]]


def value_book(book, out, market_file=None, paths=None, greeks=True, workers=None, scheduler=None,
               checkpoint=None, chunk=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Value every position of `book`; write results and their summary beside them."""
    out = _check_output(out)
    positions = load_book(book)
    options = _options(market_file, paths, chunk, greeks=greeks)
    order = _underlying_order(positions)
    rows = run_chunks(value_chunk, _chunks(positions, order, options["chunk"]), options, workers,
                      scheduler, checkpoint, _digest(book, positions, options, "value"))
    results = pd.DataFrame(_in_book_order(rows, order))
    summary = summarize(results)
    _write_atomic(out, frame=results)
    _write_atomic(out.with_name(f"{out.stem}.summary{out.suffix}"), frame=summary)
    return results, summary


def _scenario_pnl(book, options, workers, scheduler, checkpoint, kind) -> pd.DataFrame:
    positions = load_book(book)
    order = _underlying_order(positions)
    rows = _in_book_order(run_chunks(scenario_chunk, _chunks(positions, order, options["chunk"]),
                                     options, workers, scheduler, checkpoint,
                                     _digest(book, positions, options, kind), label="scenarios"),
                          order)
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "unit_values"} for r in rows])
    for name in options["scenarios"]:
        table[name] = [r["quantity"] * (r["unit_values"][name] - r["unit_values"]["base"])
                       if r["unit_values"] else math.nan for r in rows]
    return table


def stress_book(book, scenarios_file=None, out=None, market_file=None, paths=None, workers=None,
                scheduler=None, checkpoint=None, chunk=None) -> pd.DataFrame:
    """P&L (USD) of every position under each named scenario, full revaluation."""
    from gpufin.marketdata import check_scenarios, load_market_data
    out = _check_output(out) if out else None
    if scenarios_file:
        doc = read_document(scenarios_file)
        check_scenarios(Path(scenarios_file), doc)
    else:
        doc = load_market_data().scenarios
    scenarios = {name: {k: v for k, v in table.items() if k != "description"} for name, table in doc.items()}
    table = _scenario_pnl(book, _options(market_file, paths, chunk, scenarios=scenarios), workers, scheduler,
                          checkpoint, "stress")
    if out:
        _write_atomic(out, frame=table)
    return table


def var_book(book, horizon_days: int = 10, level: float = 0.99, scenarios: int = 100, seed: int = 1,
             vol: float = 0.5, correlation: float = 0.8, rate_vol: float = 0.01, out=None,
             market_file=None, paths=None, workers=None, scheduler=None, checkpoint=None,
             plot=None, chunk=None) -> dict:
    """Full-revaluation VaR and ES of the book's P&L over `horizon_days` (calendar days):
    each SKU's index moves by exp(vol sqrt(h) Z - vol^2 h / 2), Z standard normal with
    `correlation` between SKUs, and every rate by rate_vol sqrt(h) Z_r (h in years)."""
    if not 0.5 < level < 1.0:
        raise SpecError("--level", f"got {level}; expected a level between 0.5 and 1")
    if not -1.0 < correlation <= 1.0 or vol < 0 or rate_vol < 0 or scenarios < 2:
        raise SpecError("--correlation", "expected vol >= 0, rate vol >= 0, -1 < correlation <= 1, scenarios >= 2")
    out = _check_output(out) if out else None
    positions = load_book(book)
    skus = sorted({_row(p)["sku"] or "index" for p in positions})
    h = horizon_days / 365.0
    rng = np.random.default_rng(seed)
    corr = np.full((len(skus), len(skus)), correlation) + (1 - correlation) * np.eye(len(skus))
    z = rng.standard_normal((scenarios, len(skus))) @ np.linalg.cholesky(corr).T
    factors = np.exp(vol * math.sqrt(h) * z - 0.5 * vol ** 2 * h)
    shifts = rate_vol * math.sqrt(h) * rng.standard_normal(scenarios)
    moves = {f"s{k:04d}": {"index_factor_by_sku": dict(zip(skus, map(float, factors[k]))),
                           "rate_shift": float(shifts[k])} for k in range(scenarios)}
    table = _scenario_pnl(book, _options(market_file, paths, chunk, scenarios=moves), workers, scheduler,
                          checkpoint, "var")
    pnl = table[list(moves)].sum(axis=0, skipna=True).to_numpy()
    var = -float(np.quantile(pnl, 1 - level))
    tail = pnl[pnl <= -var]
    result = {"var": var, "es": -float(tail.mean()), "level": level, "horizon_days": horizon_days,
              "scenarios": scenarios, "seed": seed, "positions": len(table),
              "errors": int(table["error"].notna().sum()), "mean_pnl": float(pnl.mean())}
    if out:
        _write_atomic(out, frame=pd.DataFrame({"scenario": list(moves), "pnl": pnl}))
    if plot:
        from gpufin.plots import plot_pnl_histogram
        plot_pnl_histogram(pnl, var, result["es"], level, horizon_days, plot)
    return result
