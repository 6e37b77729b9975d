"""Route handlers, one module per surface."""
