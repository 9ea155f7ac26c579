"""A notice on stderr while kernels compile (numba's compile events fire on cache misses only):
one line, `compiling pricing kernels (first run only)...`, and on a terminal a spinner until
the compilation ends. The command line turns it on (GPUFIN_COMPILE_NOTICE=1); the Python API
stays silent."""
import sys

from numba.core import event
from rich.console import Console

MESSAGE = "compiling pricing kernels (first run only)..."


class CompileNotice(event.Listener):
    """Says once that kernels compile; spins while an outermost compilation runs on a terminal."""

    def __init__(self, stream=None):
        self.console = Console(file=stream or sys.stderr)
        self.depth = 0
        self.shown = False
        self.status = None

    def on_start(self, ev):
        if self.depth == 0:
            if self.console.is_terminal:
                self.status = self.console.status(MESSAGE)
                self.status.start()
            elif not self.shown:
                self.console.file.write(MESSAGE + "\n")
                self.console.file.flush()
            self.shown = True
        self.depth += 1

    def on_end(self, ev):
        self.depth -= 1
        if self.depth == 0 and self.status is not None:
            self.status.stop()
            self.status = None


def announce_compiles(stream=None) -> CompileNotice:
    """Register the notice for numba's compile events; returns the listener."""
    listener = CompileNotice(stream)
    event.register("numba:compile", listener)
    return listener
