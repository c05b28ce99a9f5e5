"""Filling the docs' generated parts in from the records (see markdown.py for the markers)."""
import difflib
import os
from typing import Dict, List, Tuple

from .markdown import TABLE, VALUE, DocsError, doc_files, prose_and_code
from .store import Records, RecordError, format_value, pick
from .tables import TABLES


def render_text(text: str, records: Records, where: str) -> str:
    """The doc with every table and figure as the records say."""
    def table(m):
        name = m.group('name')
        if name not in TABLES:
            raise DocsError(f'{where}: unknown table {name!r} (known: {", ".join(sorted(TABLES))})')
        try:
            body = TABLES[name](records).rstrip('\n') + '\n'
        except RecordError as e:
            raise DocsError(f'{where}: table {name}: {e}') from e
        return f'<!-- table: {name} -->\n{body}<!-- /table -->'

    def value(m):
        name, path, spec = m.group('record'), m.group('path'), m.group('fmt')
        try:
            text = format_value(pick(records[name], path, name), spec)
        except (RecordError, ValueError, TypeError) as e:
            raise DocsError(f'{where}: figure {name}:{path}: {e}') from e
        return f'<!--v:{name}:{path}:{spec}-->{text}<!--/v-->'
    # (a marker inside a code block is an example of the syntax: docs/conventions.md)
    return ''.join(chunk if code else VALUE.sub(value, TABLE.sub(table, chunk))
                   for code, chunk in prose_and_code(text))


def render_all(root: str) -> Dict[str, Tuple[str, str]]:
    """{doc: (text now, text as the records say)} for README.md and docs/*.md."""
    records = Records(root)
    out = {}
    for path in doc_files(root):
        with open(os.path.join(root, path), encoding='utf-8') as f:
            text = f.read()
        out[path] = (text, render_text(text, records, path))
    return out


def differences(root: str, context: int = 0) -> List[str]:
    """One entry per doc whose generated parts differ from the records: a short diff."""
    problems = []
    for path, (now, wanted) in render_all(root).items():
        if now != wanted:
            diff = difflib.unified_diff(now.splitlines(), wanted.splitlines(), f'{path} (now)',
                                        f'{path} (from the records)', n=context, lineterm='')
            problems.append('\n'.join(list(diff)[:40]))
    return problems


def write_rendered(root: str) -> List[str]:
    """Rewrite the docs whose generated parts are out of date; returns their names."""
    from .store import new_file_mode
    changed = []
    for path, (now, wanted) in render_all(root).items():
        if now == wanted:
            continue
        full = os.path.join(root, path)
        tmp = f'{full}.tmp-{os.getpid()}'
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(wanted)
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, full)
        changed.append(path)
    return changed
