"""The docs are true (issue 22): every ```bash command in README.md and docs/*.md runs as
written from a fresh clone (the quick ones here, the long ones with their documented quick
arguments), and every generated figure is the one its record holds.

The commands run in a fresh copy of the repository (what a clone has, with the built .venv
linked in), one block at a time, and must leave the tracked files as they were: a documented
command writes under outputs/, work_dirs/ or data/ (ignored), never over a tracked file.
The markers are described in swinv2_mm/records/markdown.py and docs/conventions.md.
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from swinv2_mm.records import commands, markdown  # noqa: E402
from swinv2_mm.records.render import differences  # noqa: E402
from swinv2_mm.records.sources import SOURCES  # noqa: E402

BLOCKS, PARSE_ERRORS = [], []
for _doc in markdown.doc_files(ROOT):
    try:
        BLOCKS += markdown.bash_blocks(ROOT, _doc)
    except markdown.DocsError as e:  # reported by the first test; the other docs still run
        PARSE_ERRORS.append(str(e))
# A block shown in two docs (a record's command beside its table and in the README) runs once.
QUICK = list({(tuple(b.commands), b.quick_args): b for b in reversed(BLOCKS)
              if b.runs_in_ci}.values())[::-1]
# A quick block runs in a few seconds to a minute; this is the point where it is a long one
# that lacks its marker (with room for a loaded machine).
BLOCK_TIMEOUT_S = 300


def test_docs_have_commands_and_well_formed_markers():
    assert not PARSE_ERRORS, '\n'.join(PARSE_ERRORS)
    assert BLOCKS and QUICK
    stray = [s for path in markdown.doc_files(ROOT) for s in markdown.stray_markers(ROOT, path)]
    assert not stray, f'docs-check markers not right before a ```bash block: {stray}'
    for b in BLOCKS:
        assert b.commands, f'{b.where}: an empty ```bash block'


def test_generated_tables_and_figures_match_the_records():
    problems = differences(ROOT)
    assert not problems, ('the docs differ from their records; run `.venv/bin/python '
                          'tools/docs_records.py render`:\n' + '\n\n'.join(problems))


def _normal(command):
    return ' '.join(markdown.without_comment(command).split())


def test_every_record_is_made_by_a_documented_command():
    """The docs show, as a command a user can run, how each record was measured."""
    documented = {_normal(c) for b in BLOCKS for c in b.commands}
    missing = [f'{s.name}: {s.command}' for s in SOURCES.values()
               if _normal(s.command) not in documented]
    assert not missing, 'records whose command no doc shows:\n' + '\n'.join(missing)


_HELP = {}


def _help(tool):
    if tool not in _HELP:
        proc = subprocess.run([sys.executable, os.path.join(ROOT, tool), '--help'],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 0, f'{tool} --help: {proc.stderr[-500:]}'
        _HELP[tool] = proc.stdout
    return _HELP[tool]


@pytest.mark.parametrize('block', [b for b in BLOCKS if not b.runs_in_ci],
                         ids=lambda b: b.where)
def test_commands_not_run_here_name_what_exists(block):
    """Blocks that need data, a checkpoint or a GPU, and long blocks: the files they name exist
    and the tools they call take the flags they pass."""
    assert not commands.missing_paths(block, ROOT), f'{block.where}: no such file'
    for tool, flags in commands.python_tool_flags(block).items():
        assert os.path.isfile(os.path.join(ROOT, tool)), f'{block.where}: no {tool}'
        unknown = [f for f in flags if f not in _help(tool)]
        assert not unknown, f'{block.where}: {tool} has no {unknown}'


@pytest.mark.slow
@pytest.mark.parametrize('block', QUICK, ids=lambda b: b.where)
def test_quick_command_runs_as_written_from_a_fresh_clone(block, tmp_path):
    copy = commands.fresh_copy(ROOT, str(tmp_path / 'clone'))
    result = commands.run_block(block, copy, BLOCK_TIMEOUT_S)
    shown = block.text if not block.quick_args else \
        f'{block.text}\n(each command with {block.quick_args!r} appended)'
    assert result.returncode != 124, (
        f'{block.where} ran over {BLOCK_TIMEOUT_S} s: mark it '
        '<!-- docs-check: long, measured ~N min --> (with a quick: override if it has one)')
    assert result.returncode == 0, (f'{block.where} failed (exit {result.returncode}):\n{shown}\n'
                                    f'--- output (end) ---\n{result.output[-3000:]}')
    assert not result.changed, (f'{block.where} changed or added files the repository would '
                                f'pick up: {result.changed[:10]}\n{shown}')
