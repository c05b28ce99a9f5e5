"""`python -m swinv2_mm.benchmark`: the same as tools/benchmark.py (and how the benchmark
starts its fresh measuring processes)."""
from .cli import main

main()
