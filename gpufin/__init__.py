"""gpufin: Monte Carlo pricing of GPU-collateralized debt and compute derivatives."""

__version__ = "0.1.0"


def price(spec, overrides=()):
    """Value a trade spec (dict or TOML/JSON path); see gpufin.pricing.price."""
    from gpufin.pricing import price as _price
    return _price(spec, overrides)
