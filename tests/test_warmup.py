"""`gpufin warmup` reaches every kernel; GPUFIN_CACHE=0 turns the on-disk cache off."""
import os
import subprocess
import sys

from gpufin.workflows.warmup import warm_up


def test_warmup_runs_every_kernel():
    seen = []
    times = warm_up(lambda name, seconds: seen.append(name))
    assert len(times) == len(seen) == 10 and all(s >= 0 for _, s in times)


def test_cache_switch():
    code = ("import pricing_kernels, pricing_kernels.lognormal as k;"
            "print(pricing_kernels.CACHE, type(k.lognormal_blocks._cache).__name__)")
    run = lambda env: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     env={**os.environ, **env}).stdout.split()
    assert run({"GPUFIN_CACHE": "0"}) == ["False", "NullCache"]
    assert run({"GPUFIN_CACHE": "1"})[0] == "True"
