"""Hedging an exposure (a GPU-backed loan, a fleet's operating cash, a derivative) with
futures, swaps, floors and options on its index, all valued on common paths: minimum-variance
or minimum-ES quantities, and the measures of hedge accounting (docs/hedging.md)."""
