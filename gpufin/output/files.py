"""Writing results: a temporary file in the target folder, then a rename, so a failed or
interrupted write never leaves a partial file under the requested name."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable

from gpufin.errors import SpecError
from gpufin.lazy import lazy_module

pd = lazy_module("pandas")


def temporary(path: Path) -> Path:
    """The temporary file a write to `path` goes through: `.NAME.tmp-PID` beside it. Those left
    by killed runs (their process gone) are removed first."""
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                stale.unlink()
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def not_an_input(output, inputs, key: str) -> None:
    """Refuse an output path that is one of the run's inputs (a results file never replaces
    the book, the spec or the history it came from)."""
    if output is None:
        return
    out = Path(output).resolve()
    for given in inputs:
        if given is not None and Path(given).resolve() == out:
            raise SpecError(key, f"got {str(output)!r}, an input of this run; expected a new file name")


def write_atomic(path: Path, text: str | None = None, frame: pd.DataFrame | None = None,
                 write: Callable[[Path], object] | None = None):
    """Text, a frame as CSV or Parquet (by the suffix), or what `write(temporary path)` writes
    (a workbook, an image), written atomically to path."""
    path = Path(path)
    tmp = temporary(path)
    try:
        if write is not None:
            write(tmp)
        elif frame is None:
            tmp.write_text(text)
        elif path.suffix.lower() == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise SpecError(str(path), f"cannot write the file ({exc.strerror or exc})") from None
        raise
