"""Concurrency: two processes compiling into one empty kernel cache both succeed with the same
numbers, and a Dask worker killed in the middle of a task (a real LocalCluster) has the task
retried elsewhere with an unchanged result."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cloudpickle
from dask.distributed import Client, LocalCluster

from gpufin.portfolio.positions import in_chunks, value_chunk
from gpufin.portfolio.runner import book_options, run_chunks
from gpufin.spec.book import load_book

ROOT = Path(__file__).resolve().parents[1]
PRICE = ("import json, gpufin; r = gpufin.price({'model': {'kind': 'gbm', 'spot': 2.4, 'vol': 0.5, 'rate': 0.04}, "
         "'instrument': {'kind': 'asian', 'option': 'call', 'strike': 2.4, 'maturity': 1.0, 'fixings': 12}, "
         "'mc': {'paths': 20000, 'seed': 4, 'method': 'mc'}}); print(json.dumps([r['value'], r['stderr']]))")


def test_two_processes_compile_into_one_empty_cache(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    runs = [subprocess.Popen([sys.executable, "-c", PRICE], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err for _, err in outputs]
    first, second = (json.loads(out.strip().splitlines()[-1]) for out, _ in outputs)
    assert first == second
    assert any((tmp_path / "cache").rglob("*.nbi"))                     # the cache was written


def dies_once(positions, options):
    """value_chunk, but the first call kills its own worker process (SIGKILL, mid-task)."""
    marker = Path(options["marker"])
    if not marker.exists():
        marker.write_text("killed")
        os.kill(os.getpid(), signal.SIGKILL)
    return value_chunk(positions, options)


def test_a_killed_dask_worker_is_retried_with_the_same_result(tmp_path):
    book = tmp_path / "book.csv"
    rows = ["id,quantity,model.kind,model.spot,model.vol,model.rate,instrument.kind,instrument.option,"
            "instrument.strike,instrument.maturity,mc.paths,mc.method"]
    rows += [f"P{n},1,gbm,2.4,0.5,0.04,european,call,{2.0 + 0.1 * n},1.0,4096,mc" for n in range(6)]
    book.write_text("\n".join(rows) + "\n")
    options = dict(book_options(chunk=2, greeks=False), marker=str(tmp_path / "killed"))
    chunks = in_chunks(load_book(book), list(range(6)), 2)
    alone = run_chunks(value_chunk, chunks, options)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])       # workers cannot import tests/
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster):
        distributed = run_chunks(dies_once, chunks, options, scheduler=cluster.scheduler_address)
    assert (tmp_path / "killed").exists()                              # a worker did die mid-task
    assert json.dumps(distributed, default=str) == json.dumps(alone, default=str)
