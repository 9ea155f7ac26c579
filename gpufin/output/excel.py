"""Workbooks: frames on named sheets of an .xlsx file, written atomically through pandas and
openpyxl. Cells hold the raw values (USD, fractions, decimal rates); each number cell gets the
number format of its kind (gpufin.output.tables: `#,##0` for USD, `0.0000` for prices in % of
par and index levels, `0.00%` for PD, LGD and rates)."""
from __future__ import annotations

import json
from pathlib import Path

from gpufin.lazy import lazy_module
from gpufin.output.files import write_atomic
from gpufin.output.tables import Kind, flatten, is_rows, jsonable, kind_of, subject_of

pd = lazy_module("pandas")

MAX_WIDTH = 60          # characters, the widest a column is drawn


def key_values(mapping: dict) -> pd.DataFrame:
    """A mapping as `field` / `value` rows: nested tables as dotted fields, lists as JSON."""
    rows = [(key, json.dumps(value, default=str) if isinstance(value, (list, dict)) else value)
            for key, value in flatten(jsonable(mapping)).items()]
    return pd.DataFrame(rows, columns=["field", "value"])


def result_sheets(result: dict) -> dict[str, pd.DataFrame]:
    """A result record as sheets: `results` (field / value) and one sheet per list of rows."""
    return {"results": key_values({k: v for k, v in result.items() if not is_rows(v)}),
            **{k: pd.DataFrame(v) for k, v in result.items() if is_rows(v)}}


def write_excel(path, sheets: dict[str, pd.DataFrame], aliases: dict[str, str] | None = None) -> Path:
    """Each frame on its own sheet (in order) of the .xlsx at path, written atomically.
    `aliases` formats columns of no known key as a known one (a stress scenario as `pnl`)."""
    path = Path(path)

    def write(tmp: Path):
        with open(tmp, "wb") as handle, pd.ExcelWriter(handle, engine="openpyxl") as book:
            for name, frame in sheets.items():
                frame.to_excel(book, sheet_name=name, index=False)
                _format(book.sheets[name], frame, subject_of(name), aliases or {})

    write_atomic(path, write=write)
    return path


def _cell_kind(frame: pd.DataFrame, column: str, row: int, subject: str) -> Kind | None:
    """A field / value sheet formats by the row's field, a quantile table by the row's series,
    any other by the column."""
    if column == "value" and "field" in frame.columns:
        return kind_of(str(frame["field"].iat[row]))
    if "series" in frame.columns:
        return kind_of(column, str(frame["series"].iat[row]))
    return kind_of(column, subject)


def _format(sheet, frame: pd.DataFrame, subject: str, aliases: dict[str, str]):
    for j, column in enumerate(frame.columns, start=1):
        for i in range(len(frame)):
            kind = _cell_kind(frame, aliases.get(str(column), str(column)), i, subject)
            if kind is not None:
                sheet.cell(row=i + 2, column=j).number_format = kind.excel
        width = max([len(str(column)), *(len(str(v)) for v in frame[column])])
        sheet.column_dimensions[sheet.cell(row=1, column=j).column_letter].width = min(width + 2, MAX_WIDTH)
