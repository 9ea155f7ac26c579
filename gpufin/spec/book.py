"""Books of positions: a CSV or Parquet file, one row per position.

Columns: `id`, `quantity` (units of the spec's trade; negative = short), then either `spec`
(a TOML/JSON spec file, relative to the book) or the spec's keys as flattened columns
(`model.kind`, `instrument.strike`, ...; with `spec`, they override the file's keys), and
optionally `book`, `counterparty`, `sku` for aggregation. A cell is read like a `--set`
value (TOML: numbers, quoted or bare strings, lists); empty cells are absent keys.
A row that cannot be read keeps its reason in `error`; the other rows are unaffected.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from gpufin.errors import SpecError
from gpufin.spec.reader import apply_overrides, parse_value, read_document
from gpufin.spec.schema import TABLES

TAGS = ("book", "counterparty", "sku")


@dataclass(frozen=True)
class Position:
    """One row of a book: its spec document (or the reason it has none) and its tags."""
    id: str
    quantity: float
    doc: dict | None
    error: str | None = None
    tags: dict = field(default_factory=dict)


def read_table(path: str | Path):
    """A book file as a pandas DataFrame (CSV or Parquet); unreadable files are SpecErrors."""
    p = Path(path)
    try:
        if p.suffix.lower() == ".parquet":
            return pd.read_parquet(p)
        return pd.read_csv(p, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise SpecError(str(path), f"cannot read the book ({exc})") from None


def load_book(path: str | Path) -> list[Position]:
    """Every row of a book as a Position, bad rows included (with their error)."""
    frame = read_table(path)
    if "id" not in frame.columns:
        raise SpecError(str(path), "missing column 'id'")
    base = Path(path).resolve().parent
    spec_columns = [c for c in frame.columns if c.split(".")[0] in TABLES and "." in c]
    positions = []
    for n, row in enumerate(frame.to_dict(orient="records"), start=2):
        positions.append(_position(row, n, base, spec_columns))
    return positions


def _cell(value):
    """A cell as Python data: None when empty, numbers as they are, text read as TOML."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        return parse_value(text)
    return value.item() if hasattr(value, "item") else value


def _position(row: dict, line: int, base: Path, spec_columns: list) -> Position:
    pid = _cell(row.get("id"))
    pid = str(pid) if pid is not None else f"line {line}"
    tags = {t: str(v) for t in TAGS if (v := _cell(row.get(t))) is not None}
    try:
        quantity = _cell(row.get("quantity"))
        if not isinstance(quantity, (int, float)) or isinstance(quantity, bool) or not math.isfinite(quantity):
            raise SpecError("quantity", f"got {row.get('quantity')!r}; expected a number")
        if _cell(row.get("id")) is None:
            raise SpecError("id", "missing")
        doc = {}
        spec_file = _cell(row.get("spec"))
        if spec_file is not None:
            doc = read_document(base / str(spec_file))
        assignments = [(c, v) for c in spec_columns if (v := _cell(row.get(c))) is not None]
        if not doc and not assignments:
            raise SpecError("spec", "missing; give a spec file or the spec's keys as columns")
        return Position(pid, float(quantity), apply_overrides(doc, assignments), None, tags)
    except SpecError as exc:
        return Position(pid, math.nan, None, str(exc), tags)
