"""A deal report's charts (gpufin.output.plots) as PNG data URIs, so that the report is one
file that needs no network and no other file."""
from __future__ import annotations

import base64
from dataclasses import dataclass

from gpufin.output.plots import figure_png, loan_fan_figure, loss_histogram_figure
from gpufin.report.analysis import DealAnalysis

VAR_LEVEL = 0.99         # the level of the loan result's loss_var99 and loss_es99


@dataclass(frozen=True)
class Chart:
    """An embedded chart: its anchor id, title, caption, PNG data URI and size in inches."""
    id: str
    title: str
    caption: str
    uri: str
    width_in: float
    height_in: float


def _chart(fig, id: str, title: str, caption: str) -> Chart:
    uri = "data:image/png;base64," + base64.b64encode(figure_png(fig)).decode("ascii")
    width, height = fig.get_size_inches()
    return Chart(id, title, caption, uri, float(width), float(height))


def charts(a: DealAnalysis) -> list[Chart]:
    """The LTV and DSCR fan charts and the loss histogram of a deal."""
    r, ins = a.result, a.spec.instrument
    fans = loan_fan_figure({"ltv": r["ltv_quantiles"], "dscr": r.get("dscr_quantiles")},
                           {"ltv": ins.ltv_trigger, "dscr": ins.dscr_trigger})
    dscr = " and DSCR (operating cash over debt service)" if r.get("dscr_quantiles") else ""
    losses = loss_histogram_figure(a.losses, r["loss_var99"], r["loss_es99"], VAR_LEVEL)
    return [
        _chart(fans, "fans", "Figure 1. LTV and DSCR by payment date",
               f"Loan-to-value (outstanding over collateral value){dscr} at each payment date, "
               "over the paths on which the loan is still outstanding: 5-95% and 25-75% bands and "
               "the median; dashed red: the covenant level."),
        _chart(losses, "losses", "Figure 2. Lifetime loss per path",
               f"Lifetime loss per path, discounted to the valuation date, on a log count axis. "
               f"VaR {VAR_LEVEL:.0%}: the {VAR_LEVEL:.0%} quantile of the loss; ES {VAR_LEVEL:.0%}: "
               f"the mean loss of the worst {1 - VAR_LEVEL:.0%} of paths."),
    ]
