#!/usr/bin/env python
"""The records behind every figure in README.md and docs/*.md (swinv2_mm/records/).

    .venv/bin/python tools/docs_records.py list                 # records, commands, durations
    .venv/bin/python tools/docs_records.py refresh NAME ...     # re-measure (or --results / --timings)
    .venv/bin/python tools/docs_records.py render               # rewrite the docs' tables
    .venv/bin/python tools/docs_records.py check                # exit 1 if the docs are stale
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # a checkout

from swinv2_mm.records.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
