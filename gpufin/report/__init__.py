"""Deal reports: a loan's terms, inputs and their sources, value and credit risk, charts,
stress and sensitivity, as one self-contained HTML page or a PDF."""

from gpufin.report.build import write_report

__all__ = ["write_report"]
