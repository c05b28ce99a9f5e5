import os
import sys

# Tests import their helpers (reference_models) by plain name.
sys.path.insert(0, os.path.dirname(__file__))
