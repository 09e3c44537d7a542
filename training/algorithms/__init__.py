"""Learning algorithms written from scratch in NumPy, shared by the models that teach them."""
