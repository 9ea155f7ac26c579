"""Books of positions: chunks priced in process or on Dask, values with Greeks, stress, VaR."""
