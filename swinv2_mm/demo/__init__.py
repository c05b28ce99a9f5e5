"""Small deterministic datasets for the embedded demos and tests (no downloads)."""
