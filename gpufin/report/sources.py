"""Where a deal's numbers come from: the spec file's header comment and the entries of
data/SOURCES.md that describe it (its `deals/` section, the stress scenarios, the market
snapshot), as text for the report.

SOURCES.md is read here, not in gpufin.market.data: it is documentation for people, which
only the report shows; no number of a valuation is read from it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gpufin.market.data import DATA_DIR
from gpufin.spec.files import read_text

SOURCES = DATA_DIR / "SOURCES.md"


@dataclass(frozen=True)
class MarkdownTable:
    """A table of SOURCES.md: the heading it sits under, its column names and rows (cells as
    written, Markdown included)."""
    heading: str
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Sources:
    """The citations of one deal."""
    spec_comment: list[str]              # the spec file's leading comment lines
    deal: MarkdownTable | None           # its section of SOURCES.md (specs shipped in data/)
    scenarios: MarkdownTable | None      # the anchors of data/scenarios.toml
    market_notes: list[str]              # SOURCES.md's notes on data/market.toml


def deal_sources(spec_path) -> Sources:
    """The citations of the spec at `spec_path`; a spec outside data/ has no SOURCES.md
    section of its own."""
    text = SOURCES.read_text(encoding="utf-8") if SOURCES.exists() else ""
    relative = _inside_data(Path(spec_path))
    deal = _table(text, f"`{relative}`") if relative else None
    return Sources(spec_comment=_leading_comment(spec_path), deal=deal,
                   scenarios=_table(text, "`scenarios.toml`"),
                   market_notes=_bullets(text, "`market.toml`"))


def _inside_data(path: Path) -> str | None:
    """`deals/x.toml` for a file under data/, else None."""
    try:
        return path.resolve().relative_to(DATA_DIR.resolve()).as_posix()
    except ValueError:
        return None


def _leading_comment(spec_path) -> list[str]:
    """The `#` lines at the top of a TOML spec, without the marker (none for JSON)."""
    if Path(spec_path).suffix.lower() != ".toml":
        return []
    lines = []
    for line in read_text(spec_path, "TOML document").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].removeprefix(" ").rstrip())
    return lines


def _section(text: str, marker: str) -> tuple[str, list[str]]:
    """The heading that contains `marker` and the lines up to the next heading."""
    lines = text.splitlines()
    for k, line in enumerate(lines):
        if line.startswith("#") and marker in line:
            body = []
            for following in lines[k + 1:]:
                if following.startswith("#"):
                    break
                body.append(following)
            return line.lstrip("#").strip(), body
    return "", []


def _table(text: str, marker: str) -> MarkdownTable | None:
    """The first Markdown table of the section whose heading contains `marker`."""
    heading, body = _section(text, marker)
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in body if line.lstrip().startswith("|")]
    rows = [r for r in rows if not all(re.fullmatch(r":?-+:?", c) for c in r)]
    if not rows:
        return None
    return MarkdownTable(heading, rows[0], rows[1:])


def _bullets(text: str, marker: str) -> list[str]:
    """The list items of the section whose heading contains `marker`, each joined into one line."""
    _, body = _section(text, marker)
    items: list[str] = []
    for line in body:
        if line.startswith("- "):
            items.append(line[2:].strip())
        elif items and line.startswith("  ") and line.strip():
            items[-1] += " " + line.strip()
    return items
