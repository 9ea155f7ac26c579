"""Running a loan book's joint simulation in chunks of paths, and its credit analysis.

The unit of work is a range of paths of the whole book, never a subset of its loans, so a
customer or platform shared by several loans defaults at one time in all of them on every path.
Paths [first, first + n) of gpufin.loanbook.joint.simulate_book are the same bits however the
range is split, and the chunks run through gpufin.portfolio.runner.run_chunks: in process, on
a local Dask cluster (`workers`) or an existing one (`scheduler`), checkpointed (`checkpoint`,
one JSON file per finished chunk, whose floats read back exactly). All three give the same
numbers bit for bit. A row's quantity (the share of the loan held) scales its losses and
exposure after the merge.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpufin.errors import SpecError
from gpufin.loanbook.book import LoanBook, load_loan_book
from gpufin.loanbook.joint import Book, prepare_book, simulate_paths
from gpufin.loanbook.plots import plot_credit
from gpufin.loanbook.risk import (
    check_level,
    check_paths,
    credit_risk,
    gpu_year_shares,
    parse_horizon,
    scenario_table,
)
from gpufin.output.excel import key_values, write_excel
from gpufin.output.files import write_atomic
from gpufin.portfolio.runner import book_options, check_output, digest, run_chunks

CHUNK_PATHS = 10_000      # paths per chunk (the default of --chunk for this command)
DEFAULT_PATHS = 20_000
PER_PATH = ("loss", "loss_horizon", "default_time")
_PREPARED: dict = {}      # per process: the prepared book of the latest run, by its digest


@dataclass(frozen=True)
class BookLosses:
    """What the credit analysis reads of a book's joint simulation: [paths, loans] losses (USD,
    PV at the valuation date, real-world) over the loans' lives and to `horizon` years, default
    times (years, inf = none), and by loan its exposure (USD) and groups."""
    ids: tuple[str, ...]
    loss: np.ndarray
    loss_horizon: np.ndarray
    default_time: np.ndarray
    exposure: np.ndarray
    loan_platform: tuple[str | None, ...]
    loan_sku: tuple[str, ...]
    loan_customer_shares: tuple[dict[str, float], ...]   # {customer: share of the fleet's GPU-years}
    seed: int
    horizon: float
    first_path: int = 0


@dataclass(frozen=True)
class CreditRun:
    """A `portfolio credit` run: the result record, the contribution table, the scenario table
    (None without scenarios), the book's loss per path at the chosen horizon and the rows left
    out of the book."""
    result: dict
    contributions: pd.DataFrame
    scenarios: pd.DataFrame | None
    losses: np.ndarray
    left_out: tuple[tuple[str, str], ...]


def path_chunks(paths: int, chunk: int) -> list[tuple[int, int]]:
    """(first path, paths) of each chunk of `chunk` paths, the last one shorter."""
    if not isinstance(chunk, int) or chunk < 1:
        raise SpecError("--chunk", f"got {chunk!r}; expected a whole number of paths >= 1")
    return [(first, min(chunk, paths - first)) for first in range(0, paths, chunk)]


def prepared(options: dict) -> Book:
    """The run's prepared book (joint.prepare_book: terms, grids, income tables), made once per
    process and run (keyed by the run's digest) and shared by its chunks."""
    key = options["run"]
    if key not in _PREPARED:
        _PREPARED.clear()
        _PREPARED[key] = prepare_book(options["loans"], options["seed"], tuple(options["defaulted"]))
    return _PREPARED[key]


def simulate_chunk(chunk: tuple[int, int], options: dict) -> list[dict]:
    """One chunk of paths of the book as JSON-ready lists (run_chunks' unit of work)."""
    first, n = chunk
    paths = simulate_paths(prepared(options), n, first, options["horizon"])
    return [{"first_path": first, **{name: np.asarray(getattr(paths, name)).tolist() for name in PER_PATH},
             "ids": list(paths.ids), "exposure": np.asarray(paths.exposure).tolist(),
             "loan_platform": list(paths.loan_platform), "loan_sku": list(paths.loan_sku),
             "loan_customer_shares": customer_shares(prepared(options))}]


def customer_shares(book: Book) -> list[dict[str, float]]:
    """Per loan, {customer's book name: its share of the fleet's GPU-years over the loan's life}
    (risk.gpu_year_shares; the life runs from the valuation date to the last payment)."""
    out = []
    for b in book.loans:
        contracts = b.model.contracts
        names = dict(zip(sorted({c.customer_index for c in contracts}), b.customers))
        out.append(gpu_year_shares([(names[c.customer_index], c.share, c.start, c.end) for c in contracts],
                                   float(b.run.terms.schedule.pay_times[-1])))
    return out


def book_losses(book: LoanBook, paths: int, seed: int, horizon: float, defaulted=(), chunk: int = CHUNK_PATHS,
                workers=None, scheduler=None, checkpoint=None, label: str = "paths") -> BookLosses:
    """The book's joint simulation on paths [0, paths), run in chunks of paths as asked and
    merged in path order, each loan's losses and exposure scaled by its quantity."""
    if not isinstance(paths, int) or paths < 2:
        raise SpecError("--paths", f"got {paths!r}; expected a whole number of paths >= 2")
    options = {"loans": book.loans, "seed": seed, "horizon": horizon, "defaulted": list(defaulted)}
    key = digest(list(book.positions), {**options, "loans": list(book.ids), "market": book.market, "paths": paths,
                                        "chunk": chunk}, "credit")
    rows = run_chunks(simulate_chunk, path_chunks(paths, chunk), {**options, "run": key}, workers, scheduler,
                      checkpoint, key, label=label)
    quantity = np.asarray(book.quantities, dtype=np.float64)
    merged = {name: np.concatenate([np.asarray(r[name], dtype=np.float64) for r in rows]) for name in PER_PATH}
    first = rows[0]
    return BookLosses(tuple(first["ids"]), merged["loss"] * quantity, merged["loss_horizon"] * quantity,
                      merged["default_time"], np.asarray(first["exposure"]) * quantity,
                      tuple(first["loan_platform"]), tuple(first["loan_sku"]),
                      tuple(first["loan_customer_shares"]), seed, horizon)


def check_defaults(book: LoanBook, seed: int, defaults) -> None:
    """Before any path is run: the book's names hold together (joint.prepare_book) and each
    name of `defaults` is one of its customers or platforms."""
    prepared = prepare_book(book.loans, seed)
    known = sorted({*prepared.customers, *prepared.platforms})
    for name in defaults:
        if name not in known:
            raise SpecError("--default", f"got {name!r}; expected a customer or platform of the book "
                                         f"({', '.join(known)})")


def credit_book(book, horizon: str = "1Y", level: float = 0.99, paths: int | None = None, seed: int = 1,
                defaults=(), market_file=None, workers=None, scheduler=None, checkpoint=None,
                chunk: int | None = None, allow_outside: bool = False, out=None, plot=None) -> CreditRun:
    """The credit risk of the GPU loans of `book` (docs/loanbook.md): EL, VaR and ES at `level`
    of the loss to `horizon` ("1Y", "6M", or "life"), both loss distributions, P(k or more
    defaults), Euler contributions to ES by loan, customer, platform and SKU, the
    concentration, and the book with each name of `defaults` (a customer or platform) in
    default at t = 0, on `paths` paths (default DEFAULT_PATHS) of `seed`. With `out`, the
    tables are written (see write_credit); with `plot`, the chart."""
    horizon_years = parse_horizon(horizon)
    level = check_level(level)
    out = check_output(out) if out else None
    options = book_options(market_file, None, CHUNK_PATHS if chunk is None else chunk)
    loans = load_loan_book(book, options["market"], allow_outside)
    paths = DEFAULT_PATHS if paths is None else paths
    check_paths(paths)                        # before any path is run, not after
    check_defaults(loans, seed, defaults)
    run = dict(paths=paths, seed=seed, horizon=1.0 if horizon_years is None else horizon_years,
               chunk=options["chunk"], workers=workers, scheduler=scheduler, checkpoint=checkpoint)
    base = book_losses(loans, **run)
    result, table = credit_risk(base, level, horizon_years)
    result["left_out"] = len(loans.left_out)
    scenarios = None
    if defaults:
        stressed = {name: book_losses(loans, defaulted=(name,), label=f"scenario {name}", **run)
                    for name in dict.fromkeys(defaults)}
        scenarios = scenario_table(base, stressed, level, horizon_years)
    losses = (base.loss if horizon_years is None else base.loss_horizon).sum(axis=1)
    credit = CreditRun(result, table, scenarios, losses, loans.left_out)
    if out:
        write_credit(out, credit, {"command": "portfolio credit", "book": str(book), "horizon": horizon,
                                   "level": level, "paths": paths, "seed": seed, "defaults": list(defaults),
                                   "market": market_file, "chunk": options["chunk"],
                                   "allow_outside": allow_outside})
    if plot:
        plot_credit(credit.losses, table, result, plot)
    return credit


def write_credit(out, credit: CreditRun, inputs: dict) -> None:
    """A credit run's tables: for .xlsx one workbook (sheets contributions, summary, defaults,
    scenarios, left_out, losses, inputs); otherwise the contributions at `out` and beside it
    NAME.summary, NAME.defaults, NAME.scenarios, NAME.left_out and NAME.losses (the book's loss
    per path, USD) in the same format."""
    sheets = {"contributions": credit.contributions,
              "summary": key_values({k: v for k, v in credit.result.items() if k != "defaults"}),
              "defaults": pd.DataFrame(credit.result["defaults"]),
              **({"scenarios": credit.scenarios} if credit.scenarios is not None else {}),
              "left_out": pd.DataFrame(credit.left_out, columns=["id", "reason"]),
              "losses": pd.DataFrame({"path": np.arange(len(credit.losses)), "loss": credit.losses})}
    if out.suffix.lower() == ".xlsx":
        write_excel(out, {**sheets, "inputs": key_values(inputs)})
        return
    write_atomic(out, frame=sheets.pop("contributions"))
    for name, frame in sheets.items():
        write_atomic(out.with_name(f"{out.stem}.{name}{out.suffix}"), frame=frame)

