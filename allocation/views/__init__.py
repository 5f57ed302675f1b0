"""Pages of fair allocation: one module per capability."""
