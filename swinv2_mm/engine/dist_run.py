"""torchrun for tools/dist_train.sh and tools/dist_test.sh, ending a failed run in one line.

    python -m swinv2_mm.engine.dist_run [torchrun arguments] SCRIPT [script arguments]

Left alone, a mistake that only shows once the processes run (a checkpoint that does not fit
the model, say) is printed once per process, followed by torchrun's own ~90 lines (a
`ChildFailedError` traceback and a table of failures). Here the processes' stderr goes to
files (torchrun's --redirects) and is passed on afterwards: on success as it was (each line
once), on failure only the processes' `error: ...` line, once, with how many processes said
it. With --debug (a traceback in a process's stderr) the whole stderr is passed on. stdout,
where mmengine logs, is untouched. Mistakes that can be seen before launching (the config,
the data, the flags) never get here: the scripts check them first in one process
(`tools/train.py --check-only`).
"""
import glob
import logging
import os
import sys
import tempfile
from typing import Dict, List, Optional


def _stderr_by_rank(log_dir: str) -> Dict[int, List[str]]:
    """{local rank: its stderr lines} from torchrun's DIR/<run>/attempt_<n>/<rank>/stderr.log
    (the last attempt of each rank)."""
    out: Dict[int, List[str]] = {}
    for path in sorted(glob.glob(os.path.join(log_dir, '**', 'stderr.log'), recursive=True)):
        rank = os.path.basename(os.path.dirname(path))
        if rank.isdigit():
            with open(path, errors='replace') as f:
                out[int(rank)] = f.read().splitlines()
    return out


def _once(lines: List[str]) -> List[str]:
    return list(dict.fromkeys(lines))


def failure_report(stderr: Dict[int, List[str]], failed: Dict[int, int], nproc: int) -> List[str]:
    """What the user sees when processes failed: {rank: exit code} of the failed ones."""
    text = [ln for r in sorted(failed) for ln in stderr.get(r, [])]
    if any(ln.startswith('Traceback') for ln in text):  # --debug, or a crash: all of it
        return _once(text)
    errors = _once(ln for ln in text if ln.startswith('error:'))
    if len(errors) == 1:
        return [f'{errors[0]} ({len(failed)} of {nproc} processes)' if nproc > 1 else errors[0]]
    if errors:
        return errors
    rank = min(failed)
    code = failed[rank]
    how = f'was killed by signal {-code}' if code < 0 else f'exited with code {code}'
    return [f'error: {len(failed)} of {nproc} processes failed without a message (rank {rank} '
            f'{how}); rerun with --debug for the traceback']


def main(argv: Optional[List[str]] = None) -> int:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun
    from torch.distributed.run import parse_args
    argv = list(sys.argv[1:] if argv is None else argv)
    # The elastic agent logs each failed process at ERROR level: the process's own message
    # is the one that says what was wrong.
    logging.getLogger('torch.distributed.elastic').setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix='swinv2_mm_dist_') as log_dir:
        try:
            torchrun(['--log-dir', log_dir, '--redirects', '2'] + argv)
        except ChildFailedError as e:
            nproc = int(parse_args(argv).nproc_per_node)
            failed = {f.local_rank: f.exitcode for f in e.failures.values()}
            for line in failure_report(_stderr_by_rank(log_dir), failed, nproc):
                print(line, file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print('error: interrupted', file=sys.stderr)
            return 130
        for line in _once(ln for lines in _stderr_by_rank(log_dir).values() for ln in lines):
            print(line, file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
