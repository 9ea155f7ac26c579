"""Credit risk of a book of GPU-backed loans: the loans simulated jointly on shared index,
customer and platform draws (`joint`), and the loss analytics on those paths."""
