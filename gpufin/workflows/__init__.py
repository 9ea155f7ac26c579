"""Whole jobs behind the commands that are neither a price nor a book: simulate and warm-up."""
