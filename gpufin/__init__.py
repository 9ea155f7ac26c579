"""gpufin: Monte Carlo pricing of GPU-collateralized debt and compute derivatives.

The public API; each function is documented in docs/api.md. The packages below it, by
concern (docs/architecture.md): spec, market, models, instruments, engines, credit, risk,
portfolio, loanbook, hedge, output and workflows.
"""

from gpufin.credit.measures import loan_measures
from gpufin.credit.spread import solve_spread
from gpufin.engines.pricing import price, price_many
from gpufin.errors import NoClosedForm, SpecError
from gpufin.hedge.run import hedge as hedge_exposure
from gpufin.loanbook.run import credit_book
from gpufin.models.calibration import calibrate
from gpufin.models.calibration_bases import calibrate_history
from gpufin.portfolio.scenarios import stress_book, var_book
from gpufin.portfolio.value import value_book
from gpufin.risk.grid import grid
from gpufin.version import __version__
from gpufin.workflows.simulate import simulate
from gpufin.workflows.warmup import warm_up

__all__ = ["price", "price_many", "solve_spread", "loan_measures", "grid", "simulate", "calibrate",
           "calibrate_history", "value_book", "stress_book", "var_book", "credit_book", "hedge_exposure", "warm_up", "SpecError",
           "NoClosedForm", "__version__"]
