import os
import sys

# Tests import their helpers (reference_models) by plain name.
sys.path.insert(0, os.path.dirname(__file__))


def pytest_terminal_summary(terminalreporter):
    """Print the largest identity error per reference implementation (float32)."""
    module = sys.modules.get('test_identity')
    errors = getattr(module, 'MAX_ERRORS', None)
    if errors:
        terminalreporter.write_sep('-', 'identity: largest |ours - reference| over all stages')
        for reference, err in sorted(errors.items()):
            terminalreporter.write_line(f'{reference:>22}: {err:.3g}')
