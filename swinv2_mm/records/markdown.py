"""What the docs hold that the code must keep true: the ```bash blocks (commands a user runs as
written) with their docs-check markers, and the generated parts (tables and figures filled in
from records).

Markers (HTML comments: invisible on GitHub), on the line right before a ```bash block:

    <!-- docs-check: long, measured ~N min -->        runs longer than ~1 minute on 2 cores
    <!-- docs-check: long, estimated ~N h -->         the same, never run end to end (say how
                                                      the estimate was made next to the block)
    <!-- docs-check: needs WHAT -->                   needs what a user must supply (data, a
                                                      downloaded checkpoint, a GPU, internet)
    <!-- docs-check: long, measured ~N min; quick: ARGS -->
                                                      CI runs each command of the block with
                                                      ARGS appended (the tools' argparse lets a
                                                      later flag win), e.g. `--iters 2`
Parts are separated by ';' and may be combined. A block without a marker is quick: CI runs it
as written.

Generated parts (tools/docs_records.py render fills them in from docs/records/*.json and
docs/benchmarks/*.json; the test fails when they differ from what it would write):

    <!-- table: NAME -->
    | ... the table ... |
    <!-- /table -->
and, for a figure in a sentence,
    <!--v:RECORD:PATH:FORMAT-->0.772<!--/v-->
where PATH is a '/'-separated key path into the record (list items by index) and FORMAT a
Python format spec or 'e' for a short scientific form (2.5e-6).
"""
import glob
import os
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

FENCE = re.compile(r'^(\s*)(`{3,}|~{3,})\s*([\w+-]*)\s*$')
MARKER = re.compile(r'^\s*<!--\s*docs-check:\s*(.*?)\s*-->\s*$')
TABLE = re.compile(r'<!-- table: (?P<name>[\w.-]+) -->\n(?P<body>.*?)<!-- /table -->', re.S)
VALUE = re.compile(r'<!--v:(?P<record>[\w.-]+):(?P<path>[^:>]+):(?P<fmt>[^>]*?)-->'
                   r'(?P<text>.*?)<!--/v-->')


class DocsError(ValueError):
    """A doc that breaks the conventions above: the message names the file and line."""


@dataclass
class Block:
    """One ```bash block: where it is, what it runs, and how the docs check treats it."""
    path: str                 # relative to the repository root
    line: int                 # 1-based line of the opening fence
    text: str                 # the block as written
    long_minutes: Optional[float] = None
    long_estimated: bool = False     # "estimated ~N": not run end to end (hours)
    needs: Optional[str] = None
    quick_args: Optional[str] = None
    commands: List[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f'{self.path}:{self.line}'

    @property
    def runs_in_ci(self) -> bool:
        return self.needs is None and (self.long_minutes is None or self.quick_args is not None)


def doc_files(root: str) -> List[str]:
    """README.md and docs/*.md, relative to root (docs that appear later are picked up)."""
    files = ['README.md'] + sorted(os.path.relpath(p, root)
                                   for p in glob.glob(os.path.join(root, 'docs', '*.md')))
    return [f for f in files if os.path.isfile(os.path.join(root, f))]


def _parse_marker(text: str, where: str, block: Block) -> None:
    for part in (p.strip() for p in text.split(';')):
        if part.startswith('long'):
            m = re.fullmatch(r'long,\s*(measured|estimated)\s*~\s*([\d.]+)\s*(s|min|h)', part)
            if not m:
                raise DocsError(f'{where}: write the long marker as "long, measured ~N min" '
                                f'(or "long, estimated ~N h" where it was not run) (got {part!r})')
            block.long_minutes = float(m.group(2)) * {'s': 1 / 60, 'min': 1, 'h': 60}[m.group(3)]
            block.long_estimated = m.group(1) == 'estimated'
        elif part.startswith('needs'):
            what = part[len('needs'):].strip()
            if not what:
                raise DocsError(f'{where}: say what the block needs: "needs the COCO data"')
            block.needs = what
        elif part.startswith('quick:'):
            block.quick_args = part[len('quick:'):].strip()
            if not block.quick_args:
                raise DocsError(f'{where}: "quick:" needs the arguments to append')
        else:
            raise DocsError(f'{where}: unknown docs-check marker part {part!r} (long, measured '
                            '~N min | needs WHAT | quick: ARGS)')
    if block.quick_args is not None and block.long_minutes is None:
        raise DocsError(f'{where}: "quick:" belongs to a long block (a quick block runs as '
                        'written)')


def split_commands(text: str) -> List[str]:
    """The block's commands: backslash continuations joined, blank and comment lines left
    out (a trailing `# comment` stays on its command; see without_comment)."""
    commands, current = [], ''
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith('#')):
            continue
        if line.rstrip().endswith('\\'):
            current += line.rstrip()[:-1] + ' '
            continue
        commands.append((current + line).strip())
        current = ''
    if current.strip():
        commands.append(current.strip())
    return commands


def without_comment(command: str) -> str:
    """The command without a trailing `# comment` (a # outside quotes after a blank)."""
    quote = None
    for i, ch in enumerate(command):
        if quote:
            if ch == quote:
                quote = None
        elif ch in '\'"':
            quote = ch
        elif ch == '#' and i > 0 and command[i - 1] in ' \t':
            return command[:i].rstrip()
    return command


def bash_blocks(root: str, path: str) -> List[Block]:
    """Every ```bash (or ```sh / ```shell) block of one doc, with its marker."""
    lines = open(os.path.join(root, path), encoding='utf-8').read().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(2), m.group(3).lower(), i
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        if j == len(lines):
            raise DocsError(f'{path}:{start + 1}: code block never closed')
        if lang in ('bash', 'sh', 'shell', 'console'):
            block = Block(path, start + 1, '\n'.join(lines[start + 1:j]))
            k = start - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            marker = MARKER.match(lines[k]) if k >= 0 else None
            if marker:
                _parse_marker(marker.group(1), f'{path}:{k + 1}', block)
            block.commands = split_commands(block.text)
            blocks.append(block)
        i = j + 1
    return blocks


def prose_and_code(text: str) -> List[Tuple[bool, str]]:
    """The doc cut into runs of prose and of fenced code blocks, (is_code, text) in order,
    joined back they are the doc. Markers inside code blocks are examples, not markers."""
    runs: List[Tuple[bool, str]] = []
    fence, current = None, []
    for line in text.splitlines(keepends=True):
        m = FENCE.match(line.rstrip('\n'))
        if fence is None and m:
            runs.append((False, ''.join(current)))
            fence, current = m.group(2), [line]
        elif fence is not None and line.strip().startswith(fence):
            current.append(line)
            runs.append((True, ''.join(current)))
            fence, current = None, []
        else:
            current.append(line)
    runs.append((fence is not None, ''.join(current)))
    return [(code, t) for code, t in runs if t]


def stray_markers(root: str, path: str) -> List[str]:
    """docs-check markers that are not right before a ```bash block (a typo would otherwise
    turn a long command into a quick one, or the other way round)."""
    lines = open(os.path.join(root, path), encoding='utf-8').read().splitlines()
    stray, fence = [], None
    for i, line in enumerate(lines):
        m = FENCE.match(line)
        if m and fence is None:
            fence = m.group(2)
        elif fence and line.strip().startswith(fence):
            fence = None
        elif fence is None and MARKER.match(line):  # examples inside code blocks are text
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            m = FENCE.match(lines[j]) if j < len(lines) else None
            if not m or m.group(3).lower() not in ('bash', 'sh', 'shell', 'console'):
                stray.append(f'{path}:{i + 1}')
    return stray


def all_blocks(root: str) -> List[Block]:
    return [b for path in doc_files(root) for b in bash_blocks(root, path)]
