"""Joint simulation of a book of GPU-backed loans: every loan's collateral, customers and
platform on common draws, so that loans sharing an index, a customer or a platform lose together.

Entities, shared by name across the book:
- a customer by its contract's `customer` name (a contract without a name is its loan's own:
  "<loan id>: customer <i>"); one default time per customer and path, in every loan that
  leases to it;
- a platform by `model.platform.name` (a platform without a name is its loan's own:
  "<loan id>: platform"); one default time per platform and path;
- an index by the fleet's SKU (`model.sku`): loans on one SKU share its index paths and its
  merchant utilization shocks.
A shared name must have one default law across the book (the same hazard or hazard curve, and
the same loading on the credit factor).

Draws (pricing_kernels.fleet, RNG streams), each key and counter from the book's seed and a
name by a stable hash (BLAKE2b of the text, never Python's salted hash()):
- index paths: key H(seed, "index", SKU);
- default times: key H(seed, "credit"), counter H32("customer", name) in stream 200 for a
  customer and H32("platform", name) in stream 202 for a platform;
- a loan's own draws (late deliveries): key H(seed, "loan", loan id);
- the credit factor Z: the shock of the lead loan's index over the lead's factor horizon
  (its `credit.factor` and `credit.horizon`), the lead being the first loan of the book with a
  name that loads on Z (or the first loan): every loading of the book is on this one Z (the
  other loans' `credit.factor` and `credit.horizon` give way to the lead's).
So each path's numbers depend on (seed, path number) only: paths [first_path, first_path +
n_paths) are the same bits however the book's paths are split, and a loan that shares nothing
(no SKU, customer or platform with another loan, and no loading on Z unless it is the lead)
has the same columns as in a book of itself alone. A one-loan book is not the loan priced
alone (gpufin.engines.loan): its draws are keyed by the hashes above, not by `mc.seed`.

Units and measure: money in USD, times in years from the valuation date (one for the book);
the real-world measure of the loans' specs (their rent dynamics and default hazards); losses
are each loan's LOSS of pricing_kernels.loan (DF(default) x claim - PV recovery) discounted to
the valuation date on the loan's own curve, 0 on a path where it does not default.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from gpufin.engines.collateral import fleet_default_times
from gpufin.engines.loan import LoanRun, PathCache, prepare, waterfall
from gpufin.engines.montecarlo import MERGE
from gpufin.errors import SpecError
from gpufin.models.fleet import CreditDraws, HazardCurve
from gpufin.spec.schema import Spec
from pricing_kernels.loan import END_TIME, ENDED, LOSS

FORCED = HazardCurve((0.0,), (math.inf,))        # a name in default at t = 0


@dataclass(frozen=True)
class BookPaths:
    """A loan book's simulated credit paths, paths first_path .. first_path + paths - 1 of
    `seed`, one row per path; real-world measure, USD present values at the valuation date,
    times in years from it.
    - loss[path, loan]: the loan's lifetime credit loss, DF(default) x claim - PV recovery
      (0 without a default); loss_horizon: the same, counting only defaults at or before
      `horizon` years; default_time[path, loan]: when the loan defaults (payment default or
      acceleration), inf when it does not; exposure[loan]: its commitment (USD).
    - customer_default_time[path, customer], platform_default_time[path, platform]: each
      name's default time, inf when it survives every loan's last date that it is party to
      (0 on every path for a name in `defaulted`). A customer's own time: a platform's
      default may end its contracts earlier.
    - per loan: loan_customers (book names, in the loan's contract order of first
      appearance), loan_customer_shares ({customer: its contracts' shares of the fleet}),
      loan_platform (name or None), loan_sku.
    - factor_loan: the loan whose index shock is the book's credit factor Z."""
    ids: tuple
    loss: np.ndarray
    loss_horizon: np.ndarray
    default_time: np.ndarray
    exposure: np.ndarray
    customers: tuple
    customer_default_time: np.ndarray
    platforms: tuple
    platform_default_time: np.ndarray
    loan_customers: tuple
    loan_customer_shares: tuple
    loan_platform: tuple
    loan_sku: tuple
    factor_loan: str
    defaulted: tuple
    first_path: int
    seed: int
    horizon: float

    @property
    def paths(self) -> int:
        return self.loss.shape[0]


@dataclass(frozen=True)
class BookLoan:
    """A loan of a book, ready to simulate: its run (gpufin.engines.loan.prepare, its fleet
    model carrying the book's draws and any forced defaults), the key of its index paths and
    its names in the book."""
    id: str
    run: LoanRun
    index_key: int
    customers: tuple             # book name per customer of the fleet model, in its order
    platform: str | None
    shares: dict                 # {customer: its contracts' shares of the fleet}

    @property
    def model(self):
        return self.run.collateral.model

    def names(self) -> list[tuple[str, str]]:
        """(kind, name) of each name of the fleet, in the kernel's order: its customers, then
        its platform."""
        return [("customer", n) for n in self.customers] + ([("platform", self.platform)] if self.platform else [])


@dataclass(frozen=True)
class Book:
    """A book's loans with their draws, its names and its credit factor's lead loan."""
    loans: tuple
    customers: tuple
    platforms: tuple
    factor_loan: str
    seed: int
    defaulted: tuple


def prepare_book(loans: Sequence[tuple[str, Spec]], seed: int, defaulted: Sequence[str] = ()) -> Book:
    """The book's loans, each prepared as priced alone and then given the book's draws (module
    docstring) and the defaults at t = 0 of the names in `defaulted` (their draws unchanged,
    so the other names and the index paths are those of the base run)."""
    book = [_loan(loan_id, spec) for loan_id, spec in _checked_loans(loans)]
    _check_valuation_dates(book)
    customers, platforms = _names(book)
    forced = _check_defaulted(defaulted, customers, platforms)
    lead = next((b for b in book if np.any(b.model.credit_loadings() != 0.0)), book[0])
    _, lead_args = lead.model.kernel_args(lead.run.grid, lead.run.collateral.market, lead.run.observe)
    credit_key = stable_hash("credit", seed)
    ready = []
    for b in book:
        draws = CreditDraws(credit_key, tuple(stable_hash("customer", n, bits=32) for n in b.customers),
                            stable_hash("platform", b.platform, bits=32) if b.platform else 0,
                            stable_hash("loan", seed, b.id), index_key(seed, lead.model.sku),
                            tuple(lead_args.factor_weights), lead_args.factor_months)
        model = _forced(replace(b.model, draws=draws), b, forced)
        run = replace(b.run, collateral=replace(b.run.collateral, model=model))
        ready.append(replace(b, run=run, index_key=index_key(seed, b.model.sku)))
    return Book(tuple(ready), tuple(customers), tuple(platforms), lead.id, seed, tuple(defaulted))


def simulate_book(loans: Sequence[tuple[str, Spec]], n_paths: int, seed: int, *, first_path: int = 0,
                  horizon: float = 1.0, defaulted: Sequence[str] = ()) -> BookPaths:
    """The book's loans simulated jointly on paths first_path .. first_path + n_paths - 1 of
    `seed` (module docstring: entities, draws, units). `loans`: (loan id, spec) pairs, each a
    loan on gpu-fleet collateral; `horizon`: years for loss_horizon; `defaulted`: customer or
    platform names in default at t = 0 on every path."""
    return simulate_paths(prepare_book(loans, seed, defaulted), n_paths, first_path, horizon)


def simulate_paths(book: Book, n_paths: int, first_path: int = 0, horizon: float = 1.0) -> BookPaths:
    """simulate_book on a prepared book."""
    _check_run(n_paths, first_path, horizon)
    loans = book.loans
    loss, default_time = np.empty((n_paths, len(loans))), np.empty((n_paths, len(loans)))
    times = {("customer", n): None for n in book.customers} | {("platform", n): None for n in book.platforms}
    for j, b in enumerate(loans):
        run = b.run
        out = waterfall(run, PathCache(run, n_paths, b.index_key, None, first_path))[0]
        loss[:, j] = out[:, LOSS]
        default_time[:, j] = np.where(out[:, ENDED] > 0.0, out[:, END_TIME], np.inf)
        own = fleet_default_times(run.collateral.model, run.collateral.market, run.grid, n_paths, b.index_key,
                                  run.observe, first_path)
        for name, tau in zip(b.names(), own):
            times[name] = tau
    return BookPaths(
        ids=tuple(b.id for b in loans), loss=loss,
        loss_horizon=np.where(default_time <= horizon + MERGE, loss, 0.0), default_time=default_time,
        exposure=np.array([b.run.terms.commitment for b in loans]),
        customers=book.customers,
        customer_default_time=_survivors(times, "customer", n_paths, loans),
        platforms=book.platforms,
        platform_default_time=_survivors(times, "platform", n_paths, loans),
        loan_customers=tuple(b.customers for b in loans), loan_customer_shares=tuple(b.shares for b in loans),
        loan_platform=tuple(b.platform for b in loans), loan_sku=tuple(b.model.sku for b in loans),
        factor_loan=book.factor_loan, defaulted=book.defaulted, first_path=first_path, seed=book.seed,
        horizon=float(horizon))


def concatenate(parts: Sequence[BookPaths]) -> BookPaths:
    """One BookPaths of consecutive path ranges of one book and seed (in order), as if simulated
    at once: bit for bit what simulate_book gives for the whole range."""
    first, fields = parts[0], ("loss", "loss_horizon", "default_time", "customer_default_time",
                               "platform_default_time")
    start = first.first_path
    for p in parts:
        if p.first_path != start or (p.ids, p.seed, p.horizon, p.defaulted) != (
                first.ids, first.seed, first.horizon, first.defaulted):
            raise ValueError(f"paths from {p.first_path} do not continue the book's paths at {start}")
        start += p.paths
    return replace(first, **{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})


def stable_hash(*parts, bits: int = 64) -> int:
    """An integer of `bits` bits (32 or 64) from the text of `parts`, the same in every process
    and version (BLAKE2b)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=bits // 8).digest(), "little")


def index_key(seed: int, sku: str) -> int:
    """The Philox key of the index paths of an SKU in a book of this seed."""
    return stable_hash("index", seed, sku)


def _check_run(n_paths, first_path, horizon) -> None:
    if not isinstance(n_paths, (int, np.integer)) or n_paths < 1:
        raise SpecError("paths", f"got {n_paths!r}; expected a whole number of paths, at least 1")
    if not isinstance(first_path, (int, np.integer)) or first_path < 0:
        raise SpecError("first_path", f"got {first_path!r}; expected a path number, 0 or more")
    if not (isinstance(horizon, (int, float)) and horizon > 0.0):
        raise SpecError("horizon", f"got {horizon!r}; expected years, more than 0")


def _checked_loans(loans) -> list:
    loans = list(loans)
    if not loans:
        raise SpecError("loans", "no loans; expected at least one (loan id, spec) pair")
    ids = [loan_id for loan_id, _ in loans]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise SpecError("loans", f"loan ids {twice!r} appear more than once; expected one row per loan")
    for loan_id, spec in loans:
        if spec.instrument is None or spec.instrument.kind != "loan":
            kind = None if spec.instrument is None else spec.instrument.kind
            raise SpecError(f"{loan_id}.instrument.kind", f"got {kind!r}; expected 'loan'")
        if spec.model.kind != "gpu-fleet":
            raise SpecError(f"{loan_id}.model.kind", f"got {spec.model.kind!r}; expected 'gpu-fleet' "
                                                     "(a book's loans share customers, platforms and indices)")
    return loans


def _loan(loan_id: str, spec: Spec) -> BookLoan:
    """The loan prepared as priced alone, with its customers' and platform's book names."""
    run = prepare(spec)
    table = spec.model
    by_index, shares = {}, {}
    for i, (c, model_c) in enumerate(zip(table.contracts, run.collateral.model.contracts)):
        name = c.customer or f"{loan_id}: customer {i}"
        by_index.setdefault(model_c.customer_index, name)
        shares[name] = shares.get(name, 0.0) + c.share
    platform = None
    if table.platform is not None:
        named = "name" in table.platform.model_fields_set
        platform = table.platform.name if named else f"{loan_id}: platform"
    return BookLoan(loan_id, run, 0, tuple(by_index[k] for k in sorted(by_index)), platform, shares)


def _check_valuation_dates(book: list[BookLoan]) -> None:
    """One valuation date for the book (the draws are keyed by time from it)."""
    first = book[0].run.collateral.market.anchor
    for b in book:
        if b.run.collateral.market.anchor != first:
            raise SpecError(f"{b.id}.market.valuation_date", f"got {b.run.collateral.market.anchor}; expected "
                                                             f"the book's valuation date {first} (loan {book[0].id!r})")


def _names(book: list[BookLoan]) -> tuple[list, list]:
    """The book's customers and platforms in order of first appearance, each with one default
    law (hazard curve and loading) across the loans that share it."""
    laws: dict = {}
    for b in book:
        for (kind, name), curve, loading in zip(b.names(), b.model.credit_curves(), b.model.credit_loadings()):
            law = (curve, float(loading))
            seen = laws.setdefault((kind, name), (b.id, law))
            if seen[1] != law:
                key = f"{b.id}.model.platform" if kind == "platform" else f"{b.id}.model.contracts"
                raise SpecError(key, f"{kind} {name!r} defaults with hazards {_law_text(law)} here and "
                                     f"{_law_text(seen[1])} in loan {seen[0]!r}; expected one default "
                                     f"law per {kind} across the book")
    counters: dict = {}
    for kind, name in laws:
        counter = (kind, stable_hash(kind, name, bits=32))
        if counter in counters:
            raise SpecError("loans", f"{kind}s {counters[counter]!r} and {name!r} share a random-number "
                                     "counter (a 32-bit hash of the name); expected distinct: rename one")
        counters[counter] = name
    return ([n for k, n in laws if k == "customer"], [n for k, n in laws if k == "platform"])


def _law_text(law) -> str:
    curve, loading = law
    return f"{list(curve.hazards)} from {list(curve.times)} years, loading {loading:g}"


def _check_defaulted(defaulted, customers, platforms) -> set:
    """The names of `defaulted`, each a customer or platform of the book."""
    if isinstance(defaulted, str):
        raise SpecError("defaulted", f"got {defaulted!r}; expected a list of customer or platform names")
    known = set(customers) | set(platforms)
    for name in defaulted:
        if name not in known:
            raise SpecError("defaulted", f"got {name!r}; expected a customer or platform of the book: "
                                         f"{sorted(known)!r}")
    return set(defaulted)


def _forced(model, b: BookLoan, forced: set):
    """The fleet model with the named customers and platform in default at t = 0."""
    if not forced:
        return model
    named = {k for k, n in enumerate(b.customers) if n in forced}
    contracts = tuple(replace(c, default_hazard=math.inf, hazard_curve=None) if c.customer_index in named
                      else c for c in model.contracts)
    platform = model.platform
    if b.platform in forced:
        platform = replace(platform, curve=FORCED)
    return replace(model, contracts=contracts, platform=platform)


def _survivors(times: dict, kind: str, n_paths: int, loans) -> np.ndarray:
    """[path, name] default times of the names of `kind` (in the order of `times`), inf past the
    last date of every loan the name is party to."""
    names = [n for k, n in times if k == kind]
    out = np.empty((n_paths, len(names)))
    for i, name in enumerate(names):
        end = max(float(b.run.grid[-1]) for b in loans if (kind, name) in b.names())
        out[:, i] = np.where(times[kind, name] <= end + MERGE, times[kind, name], np.inf)
    return out
