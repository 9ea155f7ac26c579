"""Trade specs shared by the benchmark scripts (plain dicts: no gpufin import)."""

# A DDTL-style loan on the default H100 fleet: income valuation, covenants, cash sweep,
# 5 years monthly.
DDTL_LOAN = {"model": {"kind": "gpu-fleet", "gpus": 10000, "valuation": "income",
                       "contracts": [{"share": 0.8, "rate": 2.1, "end": 4.0, "prepayment": 0.2,
                                      "default_hazard": 0.002}]},
             "instrument": {"kind": "loan", "draws": [{"time": 0, "amount": 1.0e8},
                                                      {"time": 0.5, "amount": 5.0e7}],
                            "commitment": 1.5e8, "maturity": 5.0, "spread": 0.0225,
                            "amortization": "sweep", "ltv_trigger": 0.9, "ltv_test": "monthly",
                            "dscr_trigger": 1.1, "reserve_periods": 1},
             "mc": {"paths": 100_000, "seed": 1}}
