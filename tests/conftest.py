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
    module = sys.modules.get('test_identity')
    errors = getattr(module, 'MAX_ERRORS', None)
    if errors:
        terminalreporter.write_sep('-', 'identity: largest |ours - reference| over all stages')
        for reference, err in sorted(errors.items()):
            terminalreporter.write_line(f'{reference:>22}: {err:.3g}')
