"""`write_report`: the one code path behind `gpufin report`. It reads the spec, runs the
analysis (gpufin.report.analysis), draws the charts, lays out the page and writes it
atomically as .html or .pdf, the format following the extension of `out`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from gpufin.errors import SpecError
from gpufin.output.files import not_an_input, write_atomic
from gpufin.report.analysis import STEPS as ANALYSIS_STEPS
from gpufin.report.analysis import analyse
from gpufin.report.content import build_content
from gpufin.report.figures import charts
from gpufin.report.render import html_to_pdf, render_html
from gpufin.report.sources import deal_sources
from gpufin.spec.files import read_document
from gpufin.spec.reader import apply_overrides

FORMATS = (".html", ".pdf")
STEPS = (*ANALYSIS_STEPS, "drawing the charts", "writing the report")


def check_out(out) -> Path:
    """The report's path, refused unless it ends in .html or .pdf."""
    path = Path(out)
    if path.suffix.lower() not in FORMATS:
        raise SpecError("--out", f"got {str(out)!r}; expected a .html or .pdf file")
    return path


def write_report(spec, out, overrides=(), command: str = "",
                 progress: Callable[[str], object] = lambda step: None) -> Path:
    """The report of the loan in the spec file `spec` (`overrides`: --set assignments),
    written to `out` (.html or .pdf, never an input); `command` is shown as the way to
    reproduce it; `progress(step)` is called as each of STEPS starts. Returns the path."""
    path = check_out(out)
    not_an_input(out, [spec], "--out")
    doc = apply_overrides(read_document(spec), list(overrides))
    analysis = analyse(doc, progress)
    progress(STEPS[-2])
    figures = charts(analysis)
    sources = deal_sources(spec)
    content = build_content(analysis, spec, list(overrides), command, sources.spec_comment)
    progress(STEPS[-1])
    page = render_html(content, figures, sources, pdf=path.suffix.lower() == ".pdf")
    data = html_to_pdf(page) if path.suffix.lower() == ".pdf" else page.encode("utf-8")
    write_atomic(path, write=lambda tmp: tmp.write_bytes(data))
    return path
