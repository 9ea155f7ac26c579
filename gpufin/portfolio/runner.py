"""Running a book's chunks: in process or on Dask, checkpointed, with a progress bar.

A chunk is a pure function of its positions and options, so in-process runs, local Dask
clusters (`workers`) and existing clusters (`scheduler`) give identical rows. With
`checkpoint`, each finished chunk is written to its own file (named by a digest of the book
and options), and a restarted run recomputes only missing chunks.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from dask.distributed import Client, LocalCluster, as_completed
from tqdm import tqdm

import pandas as pd

from gpufin.errors import SpecError
from gpufin.output.excel import key_values, write_excel
from gpufin.output.files import write_atomic
from gpufin.spec.files import read_document
from gpufin.version import __version__

CHUNK = 256          # positions per chunk (the default of --chunk)


def digest(positions: list, options: dict, kind: str) -> str:
    """Names a run's checkpoints: every position as read from the book (id, quantity, tags,
    error and resolved spec, so an edited spec file counts), the options, the chunk size and
    the gpufin version."""
    rows = [[p.id, p.quantity, p.tags, p.error, p.doc] for p in positions]
    return hashlib.sha256(json.dumps([kind, __version__, options, rows], sort_keys=True,
                                     default=str).encode()).hexdigest()[:16]


def run_chunks(fn, chunks: list, options: dict, workers=None, scheduler=None, checkpoint=None,
               digest="", label="positions") -> list[dict]:
    """fn(chunk, options) over every chunk, in order; checkpointed (files named by `digest`, which
    only a checkpoint reads) and distributed as asked."""
    folder = Path(checkpoint) if checkpoint else None
    done = {}
    if folder:
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(len(chunks)):
            path = folder / f"{digest}-{i:05d}.json"
            if path.exists():
                done[i] = json.loads(path.read_text())
    pending = [i for i in range(len(chunks)) if i not in done]
    bar = _progress(len(chunks), len(done), label)

    def finish(i, rows):
        done[i] = rows
        if folder:
            write_atomic(folder / f"{digest}-{i:05d}.json", json.dumps(rows, default=_jsonable))
        bar.update(1)

    try:
        if workers or scheduler:
            _run_dask(fn, chunks, options, pending, finish, workers, scheduler)
        else:
            for i in pending:
                finish(i, fn(chunks[i], options))
    finally:
        bar.close()
    return [row for i in range(len(chunks)) for row in done[i]]


def _jsonable(value):
    return value.item() if hasattr(value, "item") else str(value)


def _run_dask(fn, chunks, options, pending, finish, workers, scheduler):
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, env={"NUMBA_NUM_THREADS": "1"})
        client = Client(cluster)
    try:
        futures = {client.submit(fn, chunks[i], options, pure=False): i for i in pending}
        for future in as_completed(futures):
            finish(futures[future], future.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _progress(total: int, initial: int, label: str):
    return tqdm(total=total, initial=initial, unit="chunk", desc=label, file=sys.stderr,
                disable=not sys.stderr.isatty(), leave=False)



def book_options(market_file=None, paths=None, chunk=None, **extra) -> dict:
    chunk = CHUNK if chunk is None else chunk
    if not isinstance(chunk, int) or chunk < 1:
        raise SpecError("--chunk", f"got {chunk!r}; expected a whole number of positions >= 1")
    market = None
    if market_file:
        doc = read_document(market_file)
        market = doc.get("market", doc)
    return {"market": market, "paths": paths, "chunk": chunk, **extra}


def check_output(path) -> Path:
    """The --out path of a book command, refused unless it is a .csv, .parquet or .xlsx file."""
    out = Path(path)
    if out.suffix.lower() not in (".csv", ".parquet", ".xlsx"):
        raise SpecError("--out", f"got {str(path)!r}; expected a .csv, .parquet or .xlsx file")
    return out


def write_output(out: Path, results: pd.DataFrame, inputs: dict, summary: pd.DataFrame | None = None,
                 summary_beside: bool = False, aliases: dict[str, str] | None = None):
    """A book command's output: for .xlsx one workbook with the sheets results, summary (if
    any) and inputs (the command's options), its cells formatted by column (`aliases`: see
    write_excel); otherwise results as CSV or Parquet and, with `summary_beside`, the summary
    next to it as NAME.summary.EXT."""
    if out.suffix.lower() == ".xlsx":
        write_excel(out, {"results": results, **({} if summary is None else {"summary": summary}),
                          "inputs": key_values(inputs)}, aliases)
        return
    write_atomic(out, frame=results)
    if summary_beside:
        write_atomic(out.with_name(f"{out.stem}.summary{out.suffix}"), frame=summary)
