"""Risk-factor moves applied to spec documents: Greek bumps, stress scenarios, sensitivity grids."""
