"""Credit risk of a book of GPU-backed loans (docs/loanbook.md): the loans simulated jointly on
shared index, customer and platform draws (`joint`), the loan rows of a book (`book`), the loss
analytics on those paths (`risk`), runs in chunks of paths in process or on Dask (`run`) and
the chart (`plots`)."""

from gpufin.loanbook.book import load_loan_book
from gpufin.loanbook.joint import simulate_book
from gpufin.loanbook.risk import credit_risk
from gpufin.loanbook.run import book_losses, credit_book

__all__ = ["credit_book", "book_losses", "load_loan_book", "credit_risk", "simulate_book"]
