"""Risk-factor moves applied to spec documents: Greek bumps and stress scenarios."""
