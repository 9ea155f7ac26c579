"""Numerics: closed forms, the Monte Carlo drivers of pricing_kernels, collateral paths, the loan
waterfall, and `price`/`price_many`, which send each trade to its engine."""
