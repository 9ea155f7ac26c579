"""Loading: the spec schema, reading and validating spec documents and books, times."""
