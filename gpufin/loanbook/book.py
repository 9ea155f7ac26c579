"""A book's GPU loans: the rows of a book (gpufin.spec.book) that are loans on a GPU fleet.

A row is kept when its spec validates with `instrument.kind = "loan"` and `model.kind =
"gpu-fleet"`; every other row is left out with its reason (a derivative, a loan on an index
model, a row that cannot be read or validated), so one bad row never sinks the others. Two
mistakes stop the run instead, each a one-line SpecError naming the row and key: a loan whose
platform (`model.platform.name`, when given) is no known credit name, and a book with no loan
to keep. Known names: the `[[credit.names]]` of data/market.toml, of the run's market file and of the
loan's own `market.credit`. A row's `quantity` is the share of the loan held: its losses and
exposure scale by it (a number > 0).
"""
from __future__ import annotations

from dataclasses import dataclass

from gpufin.errors import SpecError
from gpufin.market.data import load_market_data
from gpufin.spec.book import Position, load_book
from gpufin.spec.reader import load_spec
from gpufin.spec.schema import Spec


@dataclass(frozen=True)
class LoanBook:
    """The loans kept, in book order, and the rows left out with their reasons."""
    ids: tuple[str, ...]
    specs: tuple[Spec, ...]
    quantities: tuple[float, ...]
    positions: tuple[Position, ...]          # every row as read (names a run's checkpoints)
    left_out: tuple[tuple[str, str], ...]    # (row id, reason)
    market: dict | None = None               # the run's market table, applied to every loan

    @property
    def loans(self) -> list[tuple[str, Spec]]:
        """(loan id, spec) pairs, as gpufin.loanbook.joint.simulate_book takes them."""
        return list(zip(self.ids, self.specs))


def credit_names(market: dict | None = None) -> set[str]:
    """The credit names of data/market.toml and of a market table (a --market file's)."""
    tables = [load_market_data().snapshot.get("credit") or {}, (market or {}).get("credit") or {}]
    return {entry.get("name") for table in tables for entry in table.get("names", [])
            if isinstance(entry, dict)}


def load_loan_book(path, market: dict | None = None, allow_outside: bool = False) -> LoanBook:
    """The GPU loans of the book at `path` (CSV or Parquet), each spec validated with the run's
    `market` table applied (its keys replace the row's, as the other book commands do)."""
    positions = load_book(path, allow_outside)
    known = credit_names(market)
    ids, specs, quantities, left_out = [], [], [], []
    for pos in positions:
        kept = _loan(pos, market)
        if isinstance(kept, str):
            left_out.append((pos.id, kept))
            continue
        _check_platform(path, pos.id, kept, known)
        ids.append(pos.id)
        specs.append(kept)
        quantities.append(pos.quantity)
    if not ids:
        reasons = "; ".join(f"{i}: {r}" for i, r in left_out[:3])
        raise SpecError(str(path), f"no loans on a GPU fleet (got {len(positions)} row(s)"
                                   f"{': ' + reasons if reasons else ''}); expected at least one")
    return LoanBook(tuple(ids), tuple(specs), tuple(quantities), tuple(positions), tuple(left_out), market)


def _loan(pos: Position, market: dict | None) -> Spec | str:
    """The row's validated spec if it is a GPU loan, else why it is left out."""
    if pos.error is not None:
        return pos.error
    kinds = (pos.doc.get("instrument", {}).get("kind"), pos.doc.get("model", {}).get("kind"))
    if kinds[0] != "loan":
        return f"not a loan (instrument.kind {kinds[0]!r}); credit risk covers loans only"
    if kinds[1] != "gpu-fleet":
        return f"a loan on model.kind {kinds[1]!r}; expected a loan on a gpu-fleet model"
    if pos.quantity <= 0:
        return f"quantity: got {pos.quantity:g}; expected a share of the loan > 0"
    doc = pos.doc if market is None else {**pos.doc, "market": {**pos.doc.get("market", {}), **market}}
    try:
        return load_spec(doc)
    except SpecError as exc:
        return str(exc)


def _check_platform(path, row: str, spec: Spec, known: set[str]) -> None:
    if spec.model.platform is None or "name" not in spec.model.platform.model_fields_set:
        return                    # an unnamed platform is the loan's own
    own = {n.name for n in (spec.market.credit.names if spec.market.credit else [])}
    name = spec.model.platform.name
    if name not in known | own:
        raise SpecError(f"{path}: row {row}, model.platform.name",
                        f"got {name!r}; expected a credit name of data/market.toml or the market "
                        f"file ({', '.join(sorted(known | own))})")
