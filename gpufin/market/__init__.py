"""The market a trade is valued in: QuantLib discount curves and the shipped market data."""
