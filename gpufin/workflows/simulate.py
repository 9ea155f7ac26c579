"""`simulate(spec)`: Monte Carlo paths of a GPU fleet and their quantiles by date.

Paths are generated in chunks (`mc.chunk_paths`, default 16,384); with `out_path` each chunk
is appended to a Parquet file (long format: one row per path and date), written to a
temporary file and renamed when complete. Quantiles are exact over all paths. The same
spec and seed give the same numbers for any chunk size and thread count.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gpufin.engines.collateral import fleet_chunks
from gpufin.engines.montecarlo import QUANTILES
from gpufin.errors import SpecError
from gpufin.models.fleet import FleetSetup, fleet_setup
from gpufin.output.files import temporary
from gpufin.spec.reader import load_spec
from gpufin.spec.schema import Spec

SERIES = ("index", "utilization", "cash_flow", "collateral_value")
MAX_PATH_DATES = 50_000_000     # 1.6 GB of paths held in memory
UNITS = {"index": "USD/GPU-hr", "utilization": "fraction", "cash_flow": "USD per month",
         "collateral_value": "USD"}


@dataclass(frozen=True)
class Simulation:
    """Quantiles by date of each series (long format) and the run's identity."""
    quantiles: pd.DataFrame
    paths: int
    seed: int

    def to_dict(self) -> dict:
        rows = self.quantiles.assign(date=self.quantiles["date"].astype(str))
        return {"paths": self.paths, "seed": self.seed, "units": UNITS,
                "quantiles": rows.to_dict(orient="records")}


def simulate(spec, overrides=(), out_path: str | Path | None = None) -> Simulation:
    """Simulate the fleet of `spec` (dict, path or Spec); optionally stream paths to Parquet."""
    s = spec if isinstance(spec, Spec) else load_spec(spec, overrides, instrument_required=False)
    setup = fleet_setup(s)
    n, n_dates = s.mc.paths, setup.times.size
    if n * n_dates > MAX_PATH_DATES:
        raise SpecError("mc.paths", f"got {n:,} paths x {n_dates:,} dates; expected at most {MAX_PATH_DATES:,} "
                                    "(every path is held for the quantiles: fewer paths or a shorter mc.horizon)")
    everything = np.empty((len(SERIES), n, n_dates))
    writer = _ParquetStream(out_path, setup) if out_path else None
    try:
        for first, chunk in fleet_chunks(setup.model, setup.market, setup.times, n, s.mc.seed,
                                         s.mc.chunk_paths):
            everything[:, first:first + chunk.shape[1]] = chunk
            if writer:
                writer.write(first, chunk)
        if writer:
            writer.commit()
    finally:
        if writer:
            writer.discard()
    return Simulation(_quantile_table(everything, setup), n, s.mc.seed)


def _quantile_table(values: np.ndarray, setup: FleetSetup) -> pd.DataFrame:
    q = np.quantile(values, QUANTILES, axis=1)          # (quantile, series, date)
    frames = []
    for k, name in enumerate(SERIES):
        frame = pd.DataFrame({"date": setup.dates, "time_years": setup.times,
                              "series": name, "mean": values[k].mean(axis=0)})
        for j, level in enumerate(QUANTILES):
            frame[f"q{round(level * 100):02d}"] = q[j, k]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


class _ParquetStream:
    """Appends chunks to `.<name>.tmp-<pid>` beside `out` and renames it only when complete."""

    def __init__(self, out_path, setup: FleetSetup):
        self.out = Path(out_path)
        self.tmp = temporary(self.out)
        self.dates = np.array(setup.dates, dtype="datetime64[D]")
        self.times = setup.times
        schema = pa.schema([("path", pa.int64()), ("date", pa.date32()), ("time_years", pa.float64())]
                           + [(name, pa.float64()) for name in SERIES])
        try:
            self.writer = pq.ParquetWriter(self.tmp, schema)
        except OSError as exc:
            raise SpecError("--out", f"cannot write {out_path} ({exc})") from None

    def write(self, first: int, chunk: np.ndarray):
        n_paths, n_dates = chunk.shape[1], chunk.shape[2]
        columns = {"path": np.repeat(np.arange(first, first + n_paths), n_dates),
                   "date": np.tile(self.dates, n_paths), "time_years": np.tile(self.times, n_paths)}
        columns.update({name: chunk[k].ravel() for k, name in enumerate(SERIES)})
        self.writer.write_table(pa.table(columns))

    def commit(self):
        self.writer.close()
        os.replace(self.tmp, self.out)

    def discard(self):
        self.writer.close()
        self.tmp.unlink(missing_ok=True)
