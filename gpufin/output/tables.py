"""Results as tables for people: the one formatter of every command.

Each known result key has one format kind (`KEYS`, a key to a name of `KINDS`): its unit, the
factor from the raw value (100 for %, 1e4 for bp) and its digits. Money is USD with thousands
separators, in USD m (millions, 2 decimals) where the largest magnitude of the figures shown
together (a value and its error, a list, a column, the quantile columns of a table) is 1e7
or more. No number is shown in scientific notation, and one that rounds to zero has no sign. A standard error (`stderr`,
`KEY_stderr`) is shown beside its value, `value ± stderr`, in the value's unit. Lists of rows
(a loan's `ltv_quantiles`, `dscr_quantiles`, `schedule`) become tables of their own. Tables are
drawn by rich when stdout is a terminal and as plain aligned text otherwise. JSON and CSV keep
full precision and raw units (USD, fractions, decimal rates).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import shutil
import sys
from dataclasses import dataclass

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from gpufin.lazy import lazy_module

pd = lazy_module("pandas")

MILLIONS_FROM = 1e7          # USD magnitude from which money is shown in USD m


@dataclass(frozen=True)
class Kind:
    """How numbers of one kind are shown: raw value x `scale`, `decimals` digits, then `unit`;
    `money` in millions from MILLIONS_FROM. `excel` is the number format of their cells in a
    workbook, which holds the raw values."""
    unit: str
    scale: float = 1.0
    decimals: int = 2
    money: bool = False
    excel: str = "General"


KINDS = {
    "usd": Kind("USD", money=True, excel="#,##0"),
    "usd_month": Kind("USD per month", money=True, excel="#,##0"),
    "delta": Kind("USD per USD/GPU-hr", money=True, excel="#,##0"),
    "gamma": Kind("USD per (USD/GPU-hr)^2", money=True, excel="#,##0"),
    "vega": Kind("USD per 1.00 vol", money=True, excel="#,##0"),
    "dv01": Kind("USD per bp", money=True, excel="#,##0.00"),
    "util": Kind("USD per util point", money=True, excel="#,##0"),
    "price_pct": Kind("% of par", decimals=4, excel="0.0000"),
    "bp": Kind("bp", scale=1e4, decimals=1, excel="0.00%"),
    "in_bp": Kind("bp", decimals=1, excel="0.0"),
    "cs01": Kind("% of par per bp", decimals=5, excel="0.00000"),
    "pd01": Kind("USD per bp/yr of hazard", money=True, excel="#,##0"),
    "rent_level": Kind("USD per +1% index", money=True, excel="#,##0"),
    "rent_trend": Kind("USD per +1%/yr drift", money=True, excel="#,##0"),
    "launch_intensity_up": Kind("USD per +0.1 launches/yr", money=True, excel="#,##0"),
    "residual": Kind("USD per -1% collateral", money=True, excel="#,##0"),
    "haircut": Kind("USD per +1 pt haircut", money=True, excel="#,##0"),
    "lag": Kind("USD per +0.25 yr lag", money=True, excel="#,##0"),
    "pct": Kind("%", scale=100.0, excel="0.00%"),
    "index": Kind("USD/GPU-hr", decimals=4, excel="0.0000"),
    "years": Kind("yr", excel="0.00"),
    "days": Kind("days", decimals=0, excel="0"),
    "count": Kind("", decimals=0, excel="#,##0"),
    "gpu_hours": Kind("GPU-hr", decimals=0, excel="#,##0"),
    "gpus": Kind("GPUs", decimals=0, excel="#,##0"),
    "ratio": Kind("", decimals=4, excel="0.0000"),
    "usd_squared": Kind("(USD m)^2", scale=1e-12, decimals=3, excel="0.00E+00"),
    "multiple": Kind("x", excel='0.00"x"'),
}

KEYS = {
    **dict.fromkeys(("value", "unit_value", "ci95", "expected_loss", "loss_var99", "loss_es99",
                     "drawn", "commitment", "principal", "var", "es", "mean_pnl", "pnl", "jump",
                     "opex", "collateral_value"), "usd"),
    "cash_flow": "usd_month",
    **{greek: greek for greek in ("delta", "gamma", "vega", "dv01", "util")},
    **dict.fromkeys(("price_pct", "rn_price_pct", "dm_price_pct"), "price_pct"),
    **dict.fromkeys(("spread", "coupon", "rate_shift"), "bp"),
    **dict.fromkeys(("cs01", "cs01_bumped"), "cs01"),
    **dict.fromkeys(("rn_value", "rn_expected_loss"), "usd"),
    **dict.fromkeys(("rn_pd", "rw_el_fraction", "rn_hazards"), "pct"),
    **dict.fromkeys(("pd", "pd_by_year", "lgd", "breach_probability", "breach_by_year",
                     "acceleration_probability", "going_concern_share", "utilization", "ltv", "level"), "pct"),
    **dict.fromkeys(("index", "strike", "futures_price", "barrier", "rebate"), "index"),
    **dict.fromkeys(("maturity_years", "wal", "time_years", "times_years", "jtd_at_years", "expiry_years"), "years"),
    "horizon_days": "days",
    **dict.fromkeys(("paths", "payments", "fixings", "periods", "steps", "prints", "positions",
                     "errors", "scenarios", "n_obs"), "count"),
    "notional": "gpu_hours",
    "notional_gpus": "gpus",
    # `gpufin hedge` (gpufin.hedge): fractions shown in percent, regression figures plain
    **dict.fromkeys(("variance_reduction", "dollar_offset", "r2", "payment_pd"), "pct"),
    "variance": "usd_squared",
    "slope": "ratio",
    "dscr": "multiple",
    # `portfolio credit` (gpufin.loanbook): the quantile rows of the book's loss, probabilities
    "distribution": "usd",
    **dict.fromkeys(("probability", "loss_probability"), "pct"),
    **dict.fromkeys(("loans", "k"), "count"),
}

# a loan's Greeks (gpufin.risk.loan_greeks), and as `portfolio value` columns with a loan_ prefix
LOAN_GREEK_KEYS = {
    **dict.fromkeys(("jtd", "jtd_at", "jtd_platform", "jtd_at_platform", "jtd_largest", "launch_earlier"), "usd"),
    **dict.fromkeys(("pd01", "pd01_platform", "pd01_customers"), "pd01"),
    **{greek: greek for greek in ("rent_level", "rent_trend", "launch_intensity_up", "residual", "haircut", "lag")},
    "cs01": "cs01",
}
KEYS.update(LOAN_GREEK_KEYS)
KEYS.update({f"loan_{key}": kind for key, kind in LOAN_GREEK_KEYS.items()})

QUANTILE_COLUMN = re.compile(r"mean|q\d{2,3}")


def base_key(key: str) -> str:
    """The key a standard error belongs to (stderr -> value, pd_stderr -> pd), else the key."""
    if key == "stderr":
        return "value"
    return key.removesuffix("_stderr")


def stderr_key(key: str) -> str:
    """The key of the standard error of `key`: value -> stderr, pd -> pd_stderr."""
    return "stderr" if key == "value" else f"{key}_stderr"


def kind_of(key: str, subject: str | None = None) -> Kind | None:
    """The kind of a result key or column, None when unknown. `mean` and `qNN` columns take
    that of `subject`, what they are quantiles of (a series, `ltv` for `ltv_quantiles`); a
    dotted key (a field of a nested table) that of its last part, else of its first
    (`times_years.maturity` is in years); a key ending in `_usd` is money, one ending in `_bp`
    is already in bp, one ending in `_share` a fraction shown in percent."""
    if subject is not None and QUANTILE_COLUMN.fullmatch(key):
        key = subject
    parts = key.split(".")
    for part in dict.fromkeys((parts[-1], parts[0])):
        name = KEYS.get(base_key(part)) or ("usd" if part.endswith("_usd") else
                                            "in_bp" if base_key(part).endswith("_bp") else
                                            "pct" if base_key(part).endswith("_share") else None)
        if name:
            return KINDS[name]
    return None


def subject_of(name: str) -> str:
    """What a table of rows holds quantiles of: ltv_quantiles -> ltv."""
    return name.removesuffix("_quantiles")


def is_rows(value) -> bool:
    """A list of row dicts (a table inside a result)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def jsonable(value):
    """Numpy scalars as Python ones, inside dicts and lists too."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def json_ready(value):
    """jsonable, with NaN and infinities as None: JSON has no NaN, so they print as null."""
    value = jsonable(value)
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---- cells ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """A shown value: its text and its unit."""
    text: str
    unit: str = ""


def _fixed(x: float, decimals: int) -> str:
    text = f"{x:,.{decimals}f}"
    return text if re.search(r"[1-9]", text) else text.lstrip("-")


def _general(x) -> str:
    """A number of no known kind: as is if whole, else 6 significant digits, never in
    scientific notation."""
    if isinstance(x, (int, np.integer)):
        return str(x)
    text = np.format_float_positional(float(x), precision=6, fractional=False, trim="-")
    return text if re.search(r"[1-9]", text) else "0"


def _decimals(text: str) -> int:
    return len(text.partition(".")[2])


def _scalar(value) -> str | None:
    """Text of a value that is not a number, None for a number."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):          # pandas' Timestamp too
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return None


def _unit(kind: Kind, millions: bool) -> str:
    return kind.unit.replace("USD", "USD m", 1) if millions else kind.unit


def _in_millions(values, kind: Kind | None) -> bool:
    """Whether money shown together (a list, a column, a value and its error) is in USD m:
    when the largest magnitude among them is MILLIONS_FROM or more."""
    if kind is None or not kind.money:
        return False
    return max((abs(float(v)) for v in values if _scalar(v) is None), default=0.0) >= MILLIONS_FROM


def _numbers(values: list, kind: Kind | None, millions: bool) -> list[str]:
    """Texts of numbers shown together, on one scale."""
    if kind is None:
        return [t if (t := _scalar(v)) is not None else _general(v) for v in values]
    factor, decimals = (kind.scale / 1e6, 2) if millions else (kind.scale, kind.decimals)
    return [t if (t := _scalar(v)) is not None else _fixed(float(v) * factor, decimals) for v in values]


def cell(key: str, value, stderr=None, subject: str | None = None, millions: bool | None = None) -> Cell:
    """One value of `key` as shown, with its standard error when it has a nonzero one; money
    in USD m if `millions` (by default: if the value needs it)."""
    kind = kind_of(key, subject)
    if isinstance(value, (dict, list, tuple)) and not value:
        return Cell("")
    if isinstance(value, (list, tuple)):
        millions = _in_millions(value, kind) if millions is None else millions
        return Cell("[" + ", ".join(_numbers(list(value), kind, millions)) + "]",
                    _unit(kind, millions) if kind else "")
    text = _scalar(value)
    if text is not None:
        return Cell(text, kind.unit if kind and text not in ("", "n/a") else "")
    shown = [value, stderr] if _scalar(stderr) is None and stderr != 0 else [value]
    millions = _in_millions(shown, kind) if millions is None else millions
    text, *error = _numbers(shown, kind, millions)
    if error and kind is None:
        error = [_fixed(float(stderr), _decimals(text))]
    return Cell(text + "".join(f" ± {e}" for e in error), _unit(kind, millions) if kind else "")


# ---- tables -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Table:
    """Text cells ready to draw: a title, column names with a line of units, rows, and which
    columns are right-aligned (numbers)."""
    title: str | None
    columns: list[str]
    units: list[str]
    rows: list[list[str]]
    right: list[bool]
    header: bool = True


def result_tables(result: dict, title: str | None = None) -> list[Table]:
    """A result record as a table of field, value and unit (a nested table's fields as dotted
    fields), then one table per list of rows."""
    rows, extra = [], []
    for key, value in flatten(result).items():
        if is_rows(value):
            extra += frame_tables(pd.DataFrame(value), title=key, subject=subject_of(key))
        elif base_key(key) == key or base_key(key) not in result:
            c = cell(key, value, result.get(stderr_key(key)))
            rows.append([key, c.text, c.unit])
    return [Table(title, ["field", "value", "unit"], ["", "", ""], rows, [False, True, False],
                  header=False), *extra]


def flatten(record: dict, prefix: str = "") -> dict:
    """A record with the fields of its nested tables as dotted keys; an empty table stays."""
    flat = {}
    for key, value in record.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def frame_tables(frame: pd.DataFrame, title: str | None = None, group: str | None = None,
                 subject: str | None = None) -> list[Table]:
    """A frame as a table, or one table per value of the column `group` (titled and with
    quantile columns of that value's kind). Columns with no value are left out."""
    if group is None:
        return [_frame_table(frame, title, subject)]
    return [_frame_table(part.drop(columns=group), str(name), str(name))
            for name, part in frame.groupby(group, sort=False)]


def _frame_table(frame: pd.DataFrame, title: str | None, subject: str | None) -> Table:
    shown = [c for c in frame.columns if frame[c].notna().any()
             and (base_key(c) == c or base_key(c) not in frame.columns)]
    # the quantile columns (mean, qNN) show one quantity on one scale; other columns each their own
    group = {name: "quantiles" if QUANTILE_COLUMN.fullmatch(str(name)) else name for name in shown}
    millions = {}
    for name in shown:
        together = [frame[n].to_numpy() for n in shown if group[n] == group[name]]
        millions.setdefault(group[name], _in_millions(np.concatenate(together), kind_of(name, subject)))
    columns, units, right = [], [], []
    for name in shown:
        kind, in_millions = kind_of(name, subject), millions[group[name]]
        errors = frame[stderr_key(name)] if stderr_key(name) in frame.columns else [None] * len(frame)
        columns.append([cell(name, v, e, subject, in_millions).text for v, e in zip(frame[name], errors)])
        units.append(_unit(kind, in_millions) if kind else "")
        right.append(kind is not None or pd.api.types.is_numeric_dtype(frame[name]))
    return Table(title, [str(c) for c in shown], units, [list(r) for r in zip(*columns)], right)


# ---- drawing ----------------------------------------------------------------------------------

def _lines(table: Table) -> list[list[str]]:
    head = [table.columns] + ([table.units] if any(table.units) else []) if table.header else []
    return head + table.rows


def _plain(table: Table) -> str:
    lines = _lines(table)
    widths = [max((len(line[i]) for line in lines), default=0) for i in range(len(table.columns))]
    text = ["  ".join(s.rjust(w) if r else s.ljust(w) for s, w, r in zip(line, widths, table.right)).rstrip()
            for line in lines]
    return "\n".join(([table.title] if table.title else []) + text)


def _rich(table: Table) -> RichTable:
    out = RichTable(title=table.title, title_justify="left", title_style="bold", show_header=table.header,
                    box=box.SIMPLE_HEAD if table.header else None, header_style="bold")
    for name, unit, right in zip(table.columns, table.units, table.right):
        out.add_column(Text(name + ("\n" + unit if any(table.units) else "")),
                       justify="right" if right else "left", no_wrap=True)
    for row in table.rows:
        out.add_row(*map(Text, row))
    return out


def render(tables: list[Table], rich: bool | None = None) -> str:
    """Tables as text: drawn by rich if `rich` (default: stdout is a terminal), else plain."""
    plain = [_plain(t) for t in tables]
    if not (sys.stdout.isatty() if rich is None else rich):
        return "\n\n".join(plain)
    needed = max(len(line) for text in plain for line in text.splitlines()) + 4 * max(
        len(t.columns) for t in tables)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=max(shutil.get_terminal_size().columns, needed))
    for table in tables:
        console.print(_rich(table))
    return buffer.getvalue().rstrip("\n")


# ---- formats ----------------------------------------------------------------------------------

def format_result(result: dict, fmt: str, rich: bool | None = None) -> str:
    """A result record as a table, a JSON object, or CSV: a header and one row (lists as JSON),
    then each list of rows as a table of its own (first column `table`, its key), after a
    blank line."""
    if fmt == "json":
        return json.dumps(json_ready(result), indent=2, allow_nan=False)
    if fmt == "table":
        return render(result_tables(result), rich)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    flat = {k: v for k, v in jsonable(result).items() if not is_rows(v)}
    writer.writerow(flat)
    writer.writerow(json.dumps(v) if isinstance(v, (list, dict)) else ("" if v is None else v)
                    for v in flat.values())
    for key, rows in result.items():
        if is_rows(rows):
            buffer.write("\n")
            pd.DataFrame(rows).assign(table=key)[["table", *rows[0]]].to_csv(buffer, index=False)
    return buffer.getvalue().rstrip("\n")


def format_frame(frame: pd.DataFrame, fmt: str, title: str | None = None, group: str | None = None,
                 rich: bool | None = None) -> str:
    """A frame as tables (see frame_tables), JSON records or CSV."""
    if fmt == "json":
        return json.dumps(json_ready(frame.to_dict(orient="records")), indent=2, default=str, allow_nan=False)
    if fmt == "csv":
        return frame.to_csv(index=False).rstrip("\n")
    return render(frame_tables(frame, title, group), rich)
