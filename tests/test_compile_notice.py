"""Compiling is never silent on the command line: one line on stderr while kernels compile
(a cache miss), nothing when they load from the cache, nothing from the Python API."""
import io
import os
import subprocess
import sys
from pathlib import Path

from numba import njit
from numba.core import event

from pricing_kernels.notice import MESSAGE, CompileNotice

ROOT = Path(__file__).resolve().parents[1]


def test_a_compilation_is_announced_once():
    stream = io.StringIO()
    notice = CompileNotice(stream)

    @njit
    def twice(x):
        return 2 * x

    with event.install_listener("numba:compile", notice):
        twice(1)
        twice(2)                     # compiled already: no event
        twice(1.5)                   # a new signature compiles again, still one line
    assert stream.getvalue() == MESSAGE + "\n"
    assert notice.depth == 0


def test_nothing_is_said_without_a_compilation():
    stream = io.StringIO()
    notice = CompileNotice(stream)

    @njit
    def once(x):
        return x + 1

    once(1)
    with event.install_listener("numba:compile", notice):
        once(2)
    assert stream.getvalue() == ""


def _stderr(env: dict) -> str:
    run = subprocess.run([sys.executable, "-c", "from cli import run; run()", "price",
                          "data/examples/future.toml", "--method", "mc", "--paths", "200"],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, **env}, check=True)
    return run.stderr


def test_the_command_line_says_it_compiles_and_the_cache_makes_it_quiet():
    assert MESSAGE in _stderr({"GPUFIN_CACHE": "0"})
    _stderr({})                                      # fills the cache if it was empty
    assert MESSAGE not in _stderr({})
