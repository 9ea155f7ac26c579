"""Books of positions: a CSV or Parquet file, one row per position.

Columns: `id`, `quantity` (units of the spec's trade; negative = short), then either `spec`
(a TOML/JSON spec file, relative to the book's folder and inside it unless `allow_outside`)
or the spec's keys as flattened columns (`model.kind`, `instrument.strike`, ...; with `spec`,
they override the file's keys), and optionally `book`, `counterparty`, `sku` for aggregation.
A cell is read like a `--set` value (TOML: numbers, quoted or bare strings, lists); empty
cells are absent keys.
A row that cannot be read keeps its reason in `error`; the other rows are unaffected.
"""
from __future__ import annotations

import csv
import io
import math
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from gpufin.errors import SpecError
from gpufin.spec.files import read_bytes, read_document, read_text
from gpufin.spec.reader import apply_overrides, parse_value, suggest
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


COLUMNS = ("id", "quantity", "spec", *TAGS)


def read_table(path: str | Path) -> tuple[list[str], list[dict], dict]:
    """A book file (CSV or Parquet) as its column names, one dict of cells per row (CSV
    cells as text) and, by row number, the error of each CSV row whose cell count differs
    from the header's (such a row is never shifted into other columns). Unreadable,
    malformed, empty and header-only books are SpecErrors."""
    if Path(path).suffix.lower() == ".parquet":
        (columns, rows), bad = _read_parquet(path), {}
    else:
        columns, rows, bad = _read_csv_rows(path)
    if not rows:
        raise SpecError(str(path), "no positions; expected a header and one row per position")
    return columns, rows, bad


def _read_parquet(path) -> tuple[list[str], list[dict]]:
    data = read_bytes(path, "Parquet table")
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except (OSError, ValueError) as exc:
        raise SpecError(str(path), f"malformed Parquet file: {_first_line(exc)}") from None
    columns = [str(c) for c in frame.columns]
    return columns, [dict(zip(columns, r)) for r in zip(*(frame[c].tolist() for c in frame.columns))]


def _read_csv_rows(path) -> tuple[list[str], list[dict], dict]:
    text = read_text(path, "CSV table")
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline="")) if any(cell.strip() for cell in r)]
    except csv.Error as exc:
        raise SpecError(str(path), f"malformed CSV file: {_first_line(exc)}") from None
    if not rows:
        raise SpecError(str(path), "empty; expected a header and one row per position")
    header, body = rows[0], rows[1:]
    bad = {n: f"line {n + 2}: {len(r)} cells; expected {len(header)}, as in the header"
           for n, r in enumerate(body) if len(r) != len(header)}
    cells = [r if len(r) == len(header) else r[:1] + [""] * (len(header) - 1) for r in body]
    return header, [dict(zip(header, r)) for r in cells], bad


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def load_book(path: str | Path, allow_outside: bool = False) -> list[Position]:
    """Every row of a book as a Position, bad rows included (with their error); a repeated id
    is flagged (`duplicate_id` in the position's tags) and warned about. A row's spec file
    must lie under the book's folder (links and `..` resolved) unless `allow_outside`."""
    columns, rows, bad = read_table(path)
    if "id" not in columns:
        raise SpecError(str(path), "missing column 'id'")
    unknown = [c for c in columns if c not in COLUMNS and c.split(".")[0] not in TABLES]
    if unknown:
        raise SpecError(f"{path}: column {unknown[0]!r}", suggest(unknown[0].split(".")[0], list(TABLES))
                        if "." in unknown[0] else f"unknown; expected {', '.join(COLUMNS)} or TABLE.KEY")
    base = Path(path).resolve().parent
    spec_columns = [c for c in columns if c.split(".")[0] in TABLES and "." in c]
    positions = []
    for n, row in enumerate(rows):
        position = _position(row, n + 2, base, spec_columns, allow_outside)
        if n in bad:
            position = Position(position.id, math.nan, None, bad[n], position.tags)
        positions.append(position)
    return _flag_duplicates(positions)


def _flag_duplicates(positions: list[Position]) -> list[Position]:
    counts = Counter(p.id for p in positions)
    repeated = sorted(i for i, k in counts.items() if k > 1)
    if repeated:
        warnings.warn(f"book: ids used more than once: {', '.join(repeated[:5])}", stacklevel=3)
    return [replace(p, tags={**p.tags, "duplicate_id": "true"}) if counts[p.id] > 1 else p for p in positions]


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


def _position(row: dict, line: int, base: Path, spec_columns: list, allow_outside: bool) -> Position:
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
            doc = read_document(_spec_path(str(spec_file), base, line, allow_outside))
        assignments = [(c, v) for c in spec_columns if (v := _cell(row.get(c))) is not None]
        if not doc and not assignments:
            raise SpecError("spec", "missing; give a spec file or the spec's keys as columns")
        return Position(pid, float(quantity), apply_overrides(doc, assignments), None, tags)
    except SpecError as exc:
        return Position(pid, math.nan, None, str(exc), tags)


def _spec_path(name: str, base: Path, line: int, allow_outside: bool) -> Path:
    """The file a row's `spec` cell names (relative to the book's resolved folder `base`,
    links and `..` resolved); outside `base` a SpecError unless `allow_outside`."""
    try:
        path = (base / name).resolve()
    except RuntimeError:            # pathlib's report of a loop of links
        raise SpecError(f"line {line}, spec", f"{name!r} is a loop of symbolic links (expected a "
                                              "file under the book's folder)") from None
    if not (allow_outside or path.is_relative_to(base)):
        raise SpecError(f"line {line}, spec", f"{name!r} leaves the book's folder {base} (got {path}; "
                                              "expected a file under the book's folder, or --allow-outside)")
    return path
