"""Writing results: a temporary file in the target folder, then a rename, so a failed or
interrupted write never leaves a partial file under the requested name."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from gpufin.errors import SpecError


def write_atomic(path: Path, text: str | None = None, frame: pd.DataFrame | None = None):
    """Text, or a frame as CSV or Parquet (by the suffix), written atomically to path."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if frame is None:
            tmp.write_text(text)
        elif path.suffix.lower() == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SpecError(str(path), f"cannot write the file ({exc.strerror})") from None


