"""Credit analytics on the loan engine: the fair spread."""
