"""A deal report as one self-contained HTML page or as a PDF.

The page is a Jinja2 template (templates/report.html) with its stylesheets inline and its
charts as PNG data URIs: it loads nothing from the network or from other files. The PDF is
the same page laid out by xhtml2pdf (pure Python, on reportlab), with a print stylesheet
(A4, page numbers) in place of the screen one.
"""
from __future__ import annotations

import html
import io
import re
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from xhtml2pdf import pisa

from gpufin.version import __version__

TEMPLATES = Path(__file__).resolve().parent / "templates"
PDF_CHART_WIDTH_CM = 17.5          # the text width of an A4 page with the print margins


def markdown_inline(text: str) -> Markup:
    """The inline Markdown of data/SOURCES.md cells as HTML: `code` and **bold**, the rest
    escaped."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return Markup(re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out))


_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True)
_ENV.filters["md"] = markdown_inline


def render_html(content, charts, sources, pdf: bool = False) -> str:
    """The report page; `pdf` selects the print stylesheet and the chart sizes in cm that
    xhtml2pdf needs."""
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    css += (TEMPLATES / ("print.css" if pdf else "screen.css")).read_text(encoding="utf-8")
    sizes = {chart.id: (PDF_CHART_WIDTH_CM, PDF_CHART_WIDTH_CM * chart.height_in / chart.width_in)
             for chart in charts}
    return _ENV.get_template("report.html").render(c=content, charts=charts, sources=sources,
                                                   css=Markup(css), pdf=pdf, sizes=sizes,
                                                   version=__version__)


def html_to_pdf(page: str) -> bytes:
    """The PDF of a report page (xhtml2pdf)."""
    buffer = io.BytesIO()
    status = pisa.CreatePDF(page, dest=buffer, encoding="utf-8")
    if status.err:
        raise RuntimeError(f"xhtml2pdf reported {status.err} error(s) laying out the report")
    return buffer.getvalue()
