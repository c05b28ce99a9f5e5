"""How the tools end: a one-line error on stderr and a non-zero exit status, never a
traceback, unless asked for one (`--debug` or SWINV2_MM_DEBUG=1)."""
import os
import sys
from typing import Callable, List, Optional, Tuple

DEBUG_ENV = 'SWINV2_MM_DEBUG'


def pop_debug(argv: Optional[List[str]]) -> Tuple[List[str], bool]:
    """(argv without --debug, whether the traceback was asked for)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = '--debug' in argv or os.environ.get(DEBUG_ENV, '') not in ('', '0')
    return [a for a in argv if a != '--debug'], debug


def one_line(err: BaseException) -> str:
    from ..checkpoint.io import CheckpointError
    from ..checkpoint.safe_pickle import CheckpointReadError
    from .errors import ToolError
    text = ' '.join(ln.strip() for ln in str(err).splitlines() if ln.strip())
    if isinstance(err, (ToolError, CheckpointReadError, CheckpointError)):
        return text
    # Not one of ours: still one line, with the way to see where it came from.
    return (f'{type(err).__name__}: {text[:400]}' if text else type(err).__name__) + \
        f' (rerun with --debug or {DEBUG_ENV}=1 for the traceback)'


def run_guarded(body: Callable[[], Optional[int]], debug: bool) -> int:
    """Run a tool's body; what goes wrong becomes `error: ...` on stderr and exit code 1."""
    try:
        return body() or 0
    except KeyboardInterrupt:
        print('error: interrupted', file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the point: every failure is one line
        if debug:
            raise
        sys.stdout.flush()
        print(f'error: {one_line(e)}', file=sys.stderr)
        return 1


# tools/step_memory.py and tools/deform_attn_time.py: one training step of a config on
# synthetic images of a given size.
def add_training_step_args(parser) -> None:
    from mmengine.config import DictAction
    parser.add_argument('--size', type=int, nargs='+', required=True, metavar='PIXELS',
                        help='square input side, or HEIGHT WIDTH (mmdet configs)')
    parser.add_argument('--batch', type=int, default=1, help='images in the batch')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--json', help='also write the figures to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')


def training_step_size(args, repeats: Optional[int] = None):
    """--size as the measuring code takes it (an int or (height, width)); a ToolError for
    sizes, batches (and repeats) that cannot be right."""
    from .errors import ToolError
    if len(args.size) > 2 or min(args.size) < 32 or args.batch < 1 or \
            (repeats is not None and repeats < 1):
        shown = f'--size {" ".join(map(str, args.size))} --batch {args.batch}'
        need = 'need one size (or height and width) >= 32 and a batch >= 1'
        if repeats is not None:
            shown, need = f'{shown} --repeats {repeats}', f'{need} and repeats >= 1'
        raise ToolError(f'{shown}: {need}')
    return args.size[0] if len(args.size) == 1 else tuple(args.size)
