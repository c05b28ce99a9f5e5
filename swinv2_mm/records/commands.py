"""Running the docs' commands as a user would: in a fresh copy of the repository (the files a
clone has, plus the built .venv), one ```bash block at a time, and checking that a command
leaves no file among the tracked ones (tracked files unchanged, nothing new that git would
pick up)."""
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

from .markdown import Block, without_comment

GIT = ['git', '-c', 'user.name=docs-check', '-c', 'user.email=docs-check@localhost',
       '-c', 'commit.gpgsign=false']


def repo_files(root: str) -> List[str]:
    """What a clone of the working tree holds: tracked files and new files git would add."""
    out = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                         cwd=root, capture_output=True, check=True).stdout
    return [p for p in out.decode().split('\0') if p and os.path.isfile(os.path.join(root, p))]


def fresh_copy(root: str, dest: str) -> str:
    """A fresh clone's files in `dest` (its own git repository, one commit), with the built
    .venv linked in: what a user has after the README's set-up command."""
    os.makedirs(dest)
    for rel in repo_files(root):
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(root, rel), target)
    os.symlink(os.path.join(root, '.venv'), os.path.join(dest, '.venv'))
    for args in (['init', '-q'], ['add', '-A'], ['commit', '-q', '-m', 'fresh clone']):
        subprocess.run(GIT + args, cwd=dest, check=True, capture_output=True)
    return dest


def changed_files(copy: str) -> List[str]:
    """Tracked files a command changed or removed, and files it added outside .gitignore."""
    out = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=all'], cwd=copy,
                         capture_output=True, text=True, check=True).stdout
    return [line[3:] for line in out.splitlines() if line.strip()]


def with_quick_args(command: str, args: Optional[str]) -> str:
    if not args:
        return command
    return without_comment(command) + ' ' + args


@dataclass
class Outcome:
    returncode: int
    seconds: float
    output: str
    changed: List[str]


def run_block(block: Block, copy: str, timeout: float, env: Optional[Dict[str, str]] = None
              ) -> Outcome:
    """The block as a bash script (stop at the first failing command), quick arguments
    appended to every command when the block is long."""
    script = '\n'.join(with_quick_args(c, block.quick_args) for c in block.commands)
    start = time.time()
    try:
        proc = subprocess.run(['bash', '-e', '-o', 'pipefail', '-c', script], cwd=copy,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout, env=dict(os.environ, **(env or {})))
        code, output = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as e:
        code, output = 124, (e.stdout or b'').decode(errors='replace') \
            if isinstance(e.stdout, bytes) else (e.stdout or '')
    return Outcome(code, time.time() - start, output, changed_files(copy))


# -- what can be checked without running -----------------------------------------------------
PATH_TOKEN = re.compile(r'^(tools|configs|tests|swinv2_mm)/[\w./-]+$')


def missing_paths(block: Block, root: str) -> List[str]:
    """Repository paths a command names (tools/..., configs/..., tests/...) that do not exist."""
    missing = []
    for command in block.commands:
        try:
            tokens = shlex.split(without_comment(command))
        except ValueError:
            continue
        for tok in tokens:
            path = tok.split('::')[0].split('=')[-1]
            if PATH_TOKEN.match(path) and not any(c in path for c in '*?[') \
                    and not os.path.exists(os.path.join(root, path)):
                missing.append(path)
    return missing


def python_tool_flags(block: Block) -> Dict[str, List[str]]:
    """{tools/X.py: [--flags the block passes it]} for `.venv/bin/python tools/X.py ...`."""
    out: Dict[str, List[str]] = {}
    for command in block.commands:
        try:
            tokens = shlex.split(without_comment(command))
        except ValueError:
            continue
        for i, tok in enumerate(tokens[:-1]):
            if tok.endswith('python') and tokens[i + 1].startswith('tools/') \
                    and tokens[i + 1].endswith('.py'):
                flags = [t.split('=')[0] for t in tokens[i + 2:] if t.startswith('--')]
                out.setdefault(tokens[i + 1], []).extend(flags)
    return out
