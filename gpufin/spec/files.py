"""Every file gpufin reads (specs, markets, scenarios, books, price histories, the tables of
`data/`) passes `read_bytes` (an existing regular file under its kind's MAX_BYTES) and, if
text, `read_text` (UTF-8), so that a wrong file is one SpecError naming it before any parsing;
`read_document` parses a TOML or JSON document. Nothing here loads the spec schema, so a
command that reads only tables (`gpufin calibrate`) starts without building it.
"""
from __future__ import annotations

import codecs
import json
import stat
import tomllib
from pathlib import Path

from gpufin.errors import SpecError

DOCUMENT_KINDS = {".toml": "TOML document", ".json": "JSON document"}
MIB = 1024 * 1024
# The largest file of each kind that gpufin reads, checked before a byte is parsed. A spec,
# market or scenario document is a few kB. A table (a book of positions, a price history)
# holds a row per position or date, about 130 bytes: 256 MiB is some two million rows, more
# than one run values, and its frame already takes several times that in memory.
MAX_BYTES = {"TOML document": 16 * MIB, "JSON document": 16 * MIB,
             "CSV table": 256 * MIB, "Parquet table": 256 * MIB}


def read_bytes(path: str | Path, kind: str) -> bytes:
    """The bytes of `path`, an existing regular file of at most MAX_BYTES[kind] bytes; any
    other file is a SpecError naming it and the `kind` expected (a key of MAX_BYTES)."""
    limit = MAX_BYTES[kind]
    try:
        st = Path(path).stat()
        if not stat.S_ISREG(st.st_mode):
            what = "a folder" if stat.S_ISDIR(st.st_mode) else "a device, pipe or socket"
            raise SpecError(str(path), f"not a regular file (got {what}; expected a {kind})")
        _check_size(path, st.st_size, kind, limit)
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1)           # a file that grew since stat is still refused
    except OSError as exc:
        raise SpecError(str(path), f"cannot read the file ({exc.strerror or exc}; "
                                   f"expected a readable {kind})") from None
    _check_size(path, len(raw), kind, limit)
    return raw


def _check_size(path, size: int, kind: str, limit: int):
    if size > limit:
        raise SpecError(str(path), f"too large (got {size:,} bytes; expected a {kind} of at most "
                                   f"{limit:,} bytes)")


def read_text(path: str | Path, kind: str) -> str:
    """The text of `path`, checked as read_bytes checks it and decoded as UTF-8; a leading
    byte-order mark (as spreadsheet programs write) is dropped, and binary content (a NUL byte
    or bytes that are not UTF-8) is a SpecError naming the file and the first bad byte."""
    raw = read_bytes(path, kind)
    body = raw.removeprefix(codecs.BOM_UTF8)
    offset = body.find(b"\x00")
    if offset < 0:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            offset = exc.start
    offset += len(raw) - len(body)
    raise SpecError(str(path), f"not UTF-8 text (got byte 0x{raw[offset]:02x} at offset {offset:,}, "
                               f"as in a binary file; expected a {kind})")


def read_document(path: str | Path) -> dict:
    """A TOML (.toml) or JSON (.json) file, read by read_text, as a dict. Any other
    extension or malformed text is a SpecError naming the file."""
    p = Path(path)
    kind = DOCUMENT_KINDS.get(p.suffix.lower())
    if kind is None:
        raise SpecError(str(path), f"got a {p.suffix or 'no'} extension; expected a .toml or .json file")
    text = read_text(path, kind)
    fmt = kind.split()[0]
    try:
        doc = json.loads(text) if fmt == "JSON" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(str(path), f"malformed {fmt} file: {exc}") from None
    if not isinstance(doc, dict):
        raise SpecError(str(path), "expected a table with model, instrument and mc")
    return doc
