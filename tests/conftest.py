import os
import sys

import pytest

# Tests import their helpers (reference_models) by plain name.
sys.path.insert(0, os.path.dirname(__file__))


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` run wherever CUDA is present and are skipped, with the reason, on
    CPU-only machines (CI): collected and reported, never silently absent."""
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='gpu: torch.cuda.is_available() is False on this machine '
                                   '(run tools/gpu_run.sh on a GPU machine)')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    """Print the largest identity error per reference implementation (float32)."""
    for name, what in (('test_identity', 'stages'), ('test_weights', 'stages (weights by layout '
                       'and name)'), ('test_classify', 'logits (tools/classify.py)')):
        errors = getattr(sys.modules.get(name), 'MAX_ERRORS', None)
        if errors:
            terminalreporter.write_sep('-', f'identity: largest |ours - reference| over all {what}')
            for reference, err in sorted(errors.items()):
                terminalreporter.write_line(f'{reference:>22}: {err:.3g}')
