"""Imported by training runs that tests/test_resume.py kills: SIGKILL (kill -9, no clean-up
of any kind) at a chosen point, given by SWINV2_TEST_KILL:
  iter:N                the end of iteration N (after its hooks, checkpoint included)
  save-partial:N        while iter_N.pth is being written: half its bytes are on disk
  save-before-rename:N  iter_N.pth's temporary file is complete and synced, not yet renamed
"""
import os
import signal

from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module(force=True)
class KillHook(Hook):
    priority = 'LOWEST'  # after CheckpointHook (VERY_LOW): iter:N dies after the save

    def __init__(self):
        kind, _, step = os.environ.get('SWINV2_TEST_KILL', ':').partition(':')
        self.kind, self.step = kind, int(step) if step else -1

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.kind == 'iter' and runner.iter + 1 == self.step:
            _die()

    def before_save_checkpoint(self, runner, checkpoint):
        if checkpoint['meta'].get('iter') != self.step:
            return
        if self.kind == 'save-partial':
            def put(backend, obj, filepath):
                with open(filepath, 'wb') as f:
                    f.write(obj[:len(obj) // 2])
                    f.flush()
                    os.fsync(f.fileno())
                _die()
            LocalBackend.put = put
        elif self.kind == 'save-before-rename':
            from swinv2_mm.engine import resume
            real = resume.fsync_path

            def fsync_then_die(path):
                real(path)
                _die()
            resume.fsync_path = fsync_then_die
