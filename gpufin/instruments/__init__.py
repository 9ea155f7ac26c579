"""Contracts: payoff plans of compute derivatives and the terms of GPU-backed loans."""
