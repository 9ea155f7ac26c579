"""Dynamics: rental-index models, the GPU-fleet collateral model and their calibration."""
