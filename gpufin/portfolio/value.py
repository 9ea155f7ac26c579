"""Books valued with their Greeks: result rows per position and sums by book, counterparty,
SKU and instrument kind. Outputs appear only when complete (a temporary file, then a rename).
"""
from __future__ import annotations

import pandas as pd

from gpufin.portfolio.positions import (GREEK_COLUMNS, LOAN_GREEKS, in_book_order, in_chunks,
                                        underlying_order, value_chunk)
from gpufin.portfolio.runner import book_options, check_output, digest, run_chunks, write_output
from gpufin.spec.book import load_book

GROUPS = ("book", "counterparty", "sku", "instrument")
# loan Greeks in USD add up across loans (loan_cs01, in price points per loan, does not)
LOAN_TOTALS = tuple(c for c in (*LOAN_GREEKS, "loan_jtd_largest") if c != "loan_cs01")


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Sums of value, Greeks and the loans' USD Greeks by book, counterparty, SKU and
    instrument kind (the loan Greeks only when the book holds a loan valued with them; NaN in a
    group without one)."""
    columns = [*GREEK_COLUMNS, *(c for c in LOAN_TOTALS if c in results and results[c].notna().any())]

    def total(values):            # NaN only when nothing in the group has the quantity
        return float(values.sum(min_count=1))

    frames = []
    for group in GROUPS:
        keys = results[group].fillna("(none)")
        agg = results.assign(key=keys).groupby("key", sort=True).agg(
            positions=("id", "size"), errors=("error", lambda e: int(e.notna().sum())),
            value=("value", total), **{g: (g, total) for g in columns})
        frames.append(agg.reset_index().rename(columns={"key": "name"}).assign(by=group))
    total = results.agg({"value": total, **{g: total for g in columns}})
    frames.append(pd.DataFrame([{"by": "total", "name": "all", "positions": len(results),
                                 "errors": int(results["error"].notna().sum()), **total.to_dict()}]))
    summary = pd.concat(frames, ignore_index=True)
    return summary[["by", "name", "positions", "errors", "value", *columns]]


def value_book(book, out=None, market_file=None, paths=None, greeks=True, workers=None, scheduler=None,
               checkpoint=None, chunk=None, allow_outside=False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Value every position of `book`; with `out`, write the results and their summary (beside
    them, or on their own sheet of an .xlsx workbook). With `allow_outside`, rows may name spec
    files outside the book's folder."""
    out = check_output(out) if out else None
    positions = load_book(book, allow_outside)
    options = book_options(market_file, paths, chunk, greeks=greeks)
    order = underlying_order(positions)
    rows = run_chunks(value_chunk, in_chunks(positions, order, options["chunk"]), options, workers,
                      scheduler, checkpoint,
                      digest(positions, options, "value") if checkpoint else "")
    results = pd.DataFrame(in_book_order(rows, order))
    summary = summarize(results)
    if out:
        write_output(out, results, {"command": "portfolio value", "book": str(book), "market": market_file,
                                    "paths": paths, "greeks": greeks, "chunk": options["chunk"],
                                    "allow_outside": allow_outside},
                     summary, summary_beside=True)
    return results, summary
