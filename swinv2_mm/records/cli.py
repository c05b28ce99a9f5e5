"""tools/docs_records.py: refresh records, regenerate the docs' tables, check them."""
import argparse
import os
import sys
from typing import List, Optional

from .markdown import DocsError
from .render import differences, write_rendered
from .sources import SOURCES, refresh
from .store import RecordError, Records

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def last_run(records: Records, name: str) -> str:
    """How long the record's own run took, and at what load ('' without a record)."""
    try:
        rec = records[name]
    except RecordError:
        return ''
    prov = rec.get('provenance') or {}
    wall = prov.get('wall_s') or rec.get('wall_s')
    load = prov.get('load_average_start') or (rec.get('settings') or {}).get('load_average_start')
    when = (prov.get('started_utc') or rec.get('started_utc') or '?')[:10]
    if wall is None:
        return ''
    return (f'last run {wall / 60:.1f} min on {when}'
            + (f', load average {load[0]:.1f} at its start' if load else ''))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='tools/docs_records.py',
        description='The records behind the figures in README.md and docs/*.md.')
    sub = p.add_subparsers(dest='what', required=True)
    sub.add_parser('list', help='every record: its command, duration, timing or result')
    r = sub.add_parser('refresh', help='re-measure records (then run `render`)')
    r.add_argument('names', nargs='*', metavar='NAME', help=f'any of: {", ".join(SOURCES)}')
    r.add_argument('--results', action='store_true',
                   help='every record without timings (a loaded machine gives the same)')
    r.add_argument('--timings', action='store_true',
                   help='every record with timings (run on a quiet machine)')
    sub.add_parser('render', help="rewrite the docs' generated tables and figures from the records")
    sub.add_parser('check', help='exit 1 when a generated part of the docs differs from the records')
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.what == 'list':
            records = Records(ROOT)
            for s in SOURCES.values():
                kind = 'timing: quiet machine' if s.timing else 'result'
                print(f'{s.name:26} {kind:21}  {last_run(records, s.name) or f"~{s.minutes:g} min (estimate)"}'
                      f'\n{"":28}{s.command}')
            return 0
        if args.what == 'refresh':
            names = list(args.names)
            names += [n for n, s in SOURCES.items() if (args.results and not s.timing)
                      or (args.timings and s.timing)]
            unknown = [n for n in names if n not in SOURCES]
            if unknown:
                raise RecordError(f'no record named {unknown[0]!r}; known: {", ".join(SOURCES)}')
            if not names:
                raise RecordError('name the records to refresh, or give --results / --timings')
            for name in dict.fromkeys(names):
                print(f'wrote {os.path.relpath(refresh(ROOT, name), ROOT)}')
            print('now: .venv/bin/python tools/docs_records.py render')
            return 0
        if args.what == 'render':
            changed = write_rendered(ROOT)
            print('rewrote ' + ', '.join(changed) if changed else 'the docs are up to date')
            return 0
        problems = differences(ROOT)
        for p in problems:
            print(p)
        if problems:
            print(f'error: {len(problems)} doc(s) differ from the records; run '
                  '.venv/bin/python tools/docs_records.py render', file=sys.stderr)
            return 1
        print('the docs match the records')
        return 0
    except (RecordError, DocsError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('error: interrupted; no record was replaced by a partial one', file=sys.stderr)
        return 130
