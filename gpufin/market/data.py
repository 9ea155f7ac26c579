"""Market data shipped with gpufin (`data/`): GPU catalog, used prices, rental history,
the default market snapshot and named stress scenarios. Sources: data/SOURCES.md.

Units: money USD; rental levels USD per GPU-hour; `power_kw` IT power per GPU (host and
network share included) in kW; `tdp_w` watts; `capex_usd` all-in cost per GPU; power
price USD per kWh; rates decimals; times and ages in years; dates ISO `YYYY-MM-DD`.
"""
from __future__ import annotations

import copy
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gpufin.errors import SpecError
from gpufin.lazy import lazy_module
from gpufin.spec.files import read_document, read_text

pd = lazy_module("pandas")
pydantic = lazy_module("pydantic")
schema = lazy_module("gpufin.spec.schema")    # read by the market snapshot's check alone: a history
                                              # (`gpufin calibrate`) loads without building it

# An installed gpufin carries data/ as gpufin/data; a source checkout has it beside gpufin/.
_INSTALLED, _SOURCE = Path(__file__).resolve().parents[1] / "data", Path(__file__).resolve().parents[2] / "data"
DATA_DIR = _INSTALLED if (_INSTALLED / "gpus.csv").exists() else _SOURCE
BASES = ("spot", "on-demand", "contract-1y", "reserved-1y", "reserved-3y", "list", "index")
SHOCKS = ("index_factor", "utilization", "power_factor", "rate_shift", "anchor_default")
GPU_COLUMNS = ("sku", "launch_date", "power_kw", "capex_usd", "tdp_w",
               "index_spot_usd_per_gpu_hour", "source_note")


def _read_csv(path: Path, required, dates=(), positive=()) -> pd.DataFrame:
    """A CSV (read by read_text) with `required` columns, `dates` parsed and `positive`
    columns checked > 0."""
    text = read_text(path, "CSV table")
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SpecError(str(path), f"malformed CSV: {str(exc).strip().splitlines()[0]}") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise SpecError(str(path), f"missing column '{missing[0]}'; expected columns "
                                   f"{', '.join(required)}")
    if df.empty:
        raise SpecError(str(path), "no data rows")
    for col in dates:
        parsed = pd.to_datetime(df[col].str.strip(), format="ISO8601", errors="coerce")
        _check(path, df[col], parsed.isna(), col, "an ISO date YYYY-MM-DD")
        df[col] = parsed
    for col in positive:
        values = pd.to_numeric(df[col], errors="coerce")
        _check(path, df[col], values.isna(), col, "a number")
        _check(path, df[col], ~(np.isfinite(values) & (values > 0)), col, "a finite positive number")
        df[col] = values.astype(float)
    return df


def _check(path: Path, values: pd.Series, bad: pd.Series, col: str, expected: str):
    """SpecError at the first row where `bad` holds (line numbers count the header as 1)."""
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        value = values.iloc[i]
        value = value.item() if isinstance(value, np.generic) else value
        raise SpecError(str(path), f"column '{col}', line {i + 2}: got {value!r}; "
                                   f"expected {expected}")


def load_history(path: str | Path) -> pd.DataFrame:
    """A user's rental-price history: CSV with `date` (ISO) and `level_usd_per_gpu_hour`
    (USD per GPU-hour, > 0), optional `sku` and `basis`; sorted by date."""
    df = _read_csv(Path(path), ("date", "level_usd_per_gpu_hour"), dates=("date",),
                   positive=("level_usd_per_gpu_hour",))
    return df.sort_values("date", kind="stable").reset_index(drop=True)


def _check_snapshot(path: Path, snap: dict):
    for key in ("valuation_date", "curve", "forward_curve", "residual_curve"):
        if not snap.get(key):
            raise SpecError(str(path), f"{key}: missing")
    try:
        pd.Timestamp(str(snap["valuation_date"]))
        schema.MarketSpec.model_validate({k: snap[k] for k in ("valuation_date", "curve", "forward_curve", "risk")
                                          if k in snap})
    except (pydantic.ValidationError, ValueError) as exc:
        raise SpecError(str(path), f"valuation_date, curve, forward_curve or risk unusable: "
                                   f"{str(exc).splitlines()[0]}") from None
    if not _positive(snap.get("power_price_usd_per_kwh")):
        raise SpecError(str(path), "power_price_usd_per_kwh: expected a positive number")
    pts = snap["residual_curve"]
    ages = [p.get("age_years") if isinstance(p, dict) else None for p in pts]
    fracs = [p.get("fraction") if isinstance(p, dict) else None for p in pts]
    ok = (len(pts) >= 2 and all(isinstance(x, (int, float)) for x in ages + fracs)
          and ages[0] == 0 and fracs[0] == 1.0 and np.all(np.diff(ages) > 0)
          and np.all(np.diff(fracs) <= 0) and min(fracs) >= 0)
    if not ok:
        raise SpecError(str(path), "residual_curve: expected {age_years, fraction} points from "
                                   "age 0 at fraction 1.0, ages increasing, fractions not rising")


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0


def check_scenarios(path: Path, doc: dict):
    """Every scenario has a description and only known shocks with values in range."""
    rules = {"index_factor": _positive, "power_factor": _positive,
             "utilization": lambda x: _positive(x) and x < 1,
             "rate_shift": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
             "anchor_default": lambda x: isinstance(x, bool)}
    if not doc:
        raise SpecError(str(path), "no scenarios; expected one table per named scenario")
    for name, table in doc.items():
        if not isinstance(table, dict) or not str(table.get("description", "")).strip():
            raise SpecError(str(path), f"{name}: expected a table with a description")
        for key, value in table.items():
            if key == "description":
                continue
            if key not in rules:
                raise SpecError(str(path), f"{name}.{key}: unknown shock; allowed: {', '.join(SHOCKS)}")
            if not rules[key](value):
                raise SpecError(str(path), f"{name}.{key}: got {value!r}; out of range")


@dataclass(frozen=True, eq=False)
class MarketData:
    """Everything in `data/`: tables as DataFrames, TOML documents as dicts."""
    gpus: pd.DataFrame            # indexed by sku; power_kw, capex_usd, tdp_w, index spot
    used_prices: pd.DataFrame     # sku, date, price_usd_low/high (USD per GPU), condition
    rental_history: pd.DataFrame  # date (datetime64), sku, level (USD/GPU-hr), basis, ...
    snapshot: dict                # market.toml
    scenarios: dict               # scenario name -> {description, shocks}

    def gpu(self, sku: str) -> dict:
        """One catalog row as a dict (with `sku`); unknown SKUs are a SpecError."""
        key = str(sku).strip().upper()
        if key not in self.gpus.index:
            raise SpecError("model.sku", f"got {sku!r}; expected one of "
                                         f"{', '.join(sorted(self.gpus.index))}")
        row = self.gpus.loc[key]
        out = {"sku": key, "launch_date": row["launch_date"].date(),
               "source_note": row["source_note"]}
        out.update({c: float(row[c]) for c in GPU_COLUMNS[2:6]})
        return out

    def market_table(self) -> dict:
        """The snapshot's valuation_date, curve and forward_curve as a spec's `market` table."""
        return copy.deepcopy({k: self.snapshot[k]
                              for k in ("valuation_date", "curve", "forward_curve")})

    def residual_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(ages in years, residual value as a fraction of all-in cost)."""
        pts = self.snapshot["residual_curve"]
        return (np.array([p["age_years"] for p in pts], dtype=float),
                np.array([p["fraction"] for p in pts], dtype=float))

    def scenario(self, name: str, key: str = "scenario") -> dict:
        """A copy of one stress scenario; `key` names the option in the error (`--scenario`)."""
        if name not in self.scenarios:
            raise SpecError(key, f"got {name!r}; expected one of {', '.join(self.scenarios)}")
        return dict(self.scenarios[name])


DATA_FILES = ("gpus.csv", "used_prices.csv", "rental_history.csv", "market.toml", "scenarios.toml")
_LOADED: dict = {}


def load_market_data(data_dir: str | Path | None = None) -> MarketData:
    """Read and check every file in `data_dir` (default: the `data/` folder beside gpufin).
    A folder read before is served from memory (a copy) until one of its files changes."""
    return copy.deepcopy(_loaded(data_dir))


def snapshot_market_table() -> dict:
    """load_market_data().market_table() of the shipped data, without copying the rest."""
    return _loaded(None).market_table()


def _loaded(data_dir) -> MarketData:
    """The checked data of a folder, read once until one of its files changes (shared: not
    to be changed)."""
    d = Path(data_dir) if data_dir is not None else DATA_DIR
    try:
        stamp = tuple((st.st_mtime_ns, st.st_size) for st in ((d / f).stat() for f in DATA_FILES))
    except OSError:
        return _read_market_data(d)        # reports the missing file
    key = (str(d.resolve()), stamp)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = _read_market_data(d)
    return _LOADED[key]


def _read_market_data(d: Path) -> MarketData:
    gpus = _read_csv(d / "gpus.csv", GPU_COLUMNS, dates=("launch_date",),
                     positive=GPU_COLUMNS[2:6])
    gpus["sku"] = gpus["sku"].str.strip().str.upper()
    if gpus["sku"].duplicated().any() or (gpus["sku"] == "").any():
        raise SpecError(str(d / "gpus.csv"), "column 'sku': expected unique, non-empty names")
    used = _read_csv(d / "used_prices.csv",
                     ("sku", "date", "price_usd_low", "price_usd_high", "condition", "source"),
                     dates=("date",), positive=("price_usd_low", "price_usd_high"))
    _check(d / "used_prices.csv", used["price_usd_low"],
           used["price_usd_low"] > used["price_usd_high"], "price_usd_low", "at most price_usd_high")
    hist = _read_csv(d / "rental_history.csv",
                     ("date", "sku", "level_usd_per_gpu_hour", "basis", "source", "confidence"),
                     dates=("date",), positive=("level_usd_per_gpu_hour",))
    _check(d / "rental_history.csv", hist["basis"], ~hist["basis"].isin(BASES), "basis",
           f"one of {', '.join(BASES)}")
    snapshot = read_document(d / "market.toml")
    _check_snapshot(d / "market.toml", snapshot)
    scenarios = read_document(d / "scenarios.toml")
    check_scenarios(d / "scenarios.toml", scenarios)
    return MarketData(gpus.set_index("sku"), used,
                      hist.sort_values("date", kind="stable").reset_index(drop=True),
                      snapshot, scenarios)
