"""Credit analytics on the loan engine: the fair spread (`spread`), hazard curves from CDS or
rating-spread quotes (`hazards`), the rating view on idealized tables (`rating`, `tables`),
the discount margin and CS01 (`margin`), a closed-form risky-loan reference (`reference`),
the spread decomposition (`decompose`) and the deals' credit inputs (`inputs`)."""
