"""Writing results: a temporary file in the target folder, then a rename, so a failed or
interrupted write never leaves a partial file under the requested name."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable

import pandas as pd

from gpufin.errors import SpecError


def write_atomic(path: Path, text: str | None = None, frame: pd.DataFrame | None = None,
                 write: Callable[[Path], object] | None = None):
    """Text, a frame as CSV or Parquet (by the suffix), or what `write(temporary path)` writes
    (a workbook, an image), written atomically to path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
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
