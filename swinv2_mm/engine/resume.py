"""Crash-proof checkpoints and bit-identical resume, installed into every tools/train.py run
by launch.prepare_train_config.

* AtomicCheckpointHook (replaces mmengine's CheckpointHook): a checkpoint is written to a
  temporary file in the same folder, fsync'ed, checked, and only then renamed to iter_N.pth
  (os.replace is atomic on one file system), so a file with a checkpoint's name is always
  complete. `last_checkpoint` is replaced the same way, and checkpoints beyond max_keep_ckpts
  are removed only after the new one is in place: a kill -9 at any moment leaves at least one
  complete checkpoint.
* RandomStateHook: the checkpoint also holds the random-number states (python, numpy, torch,
  CUDA) at the moment it was written; a resumed run restores them...
* ResumableIterBasedTrainLoop: ...after advancing the data loader past the batches already
  trained (mmengine replays the sampler, whose seed is fixed), i.e. exactly where the
  interrupted run stood. Validation runs with the random state saved and restored around it,
  so whether a run validated at an iteration does not change what it trains on afterwards.
"""
import contextlib
import glob
import os
import os.path as osp
import random
import tempfile
import zipfile
from collections import deque
from typing import Optional, Tuple

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS, LOOPS
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from ..checkpoint.io import new_file_mode

RNG_KEY = 'rng_state'  # where the states live in a checkpoint


# -- atomic files -----------------------------------------------------------------------------
def fsync_path(path: str) -> None:
    """Flush a file's (or a folder's entries') data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_temp_file(folder: str, prefix: str) -> Tuple[int, str]:
    """An open, empty file with a fresh random name in `folder` (the final file's, so that
    os.replace stays one atomic rename). mkstemp creates it with O_CREAT|O_EXCL: a link or
    file planted at a guessable name is never followed nor reused. mkstemp makes it 0600;
    it gets what a plain open() would give, since it becomes the final file."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix)
    os.fchmod(fd, new_file_mode())  # on the fd: no path to redirect
    return fd, tmp


def write_text_atomic(path: str, text: str) -> None:
    folder = osp.dirname(osp.abspath(path))
    fd, tmp = new_temp_file(folder, f'{osp.basename(path)}.tmp-')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    fsync_path(folder)


def tmp_prefix_for(filename: str) -> str:
    # A dot name that matches before_train's stale-file glob '.*.pth.tmp-*' and never
    # iter_N.pth / epoch_N.pth: auto-resume cannot pick it. mkstemp appends a random part.
    return f'.{filename}.tmp-'


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's CheckpointHook, with files that appear only complete and old checkpoints
    removed only after the new one is complete. Local folders only; other backends (s3,
    ...) keep mmengine's behaviour."""

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._local = not (self.backend_args or self.file_client_args) and \
            '://' not in str(self.out_dir)
        if not self._local:
            return
        if not getattr(runner, '_swinv2_atomic_save', False):
            runner.save_checkpoint = self._atomic(runner.save_checkpoint)
            runner._swinv2_atomic_save = True
        if is_main_process():
            # what a run killed during a save left behind
            for stale in glob.glob(osp.join(self.out_dir, '.*.pth.tmp-*')):
                os.remove(stale)
                print_log(f'removed an unfinished checkpoint save: {stale}', logger='current')

    @staticmethod
    def _atomic(save):
        def save_checkpoint(out_dir, filename, *args, **kwargs):
            if '://' in str(out_dir) or kwargs.get('backend_args') or \
                    kwargs.get('file_client_args'):
                return save(out_dir, filename, *args, **kwargs)
            if not is_main_process():  # Runner.save_checkpoint writes on rank 0 only
                return save(out_dir, filename, *args, **kwargs)
            os.makedirs(out_dir, exist_ok=True)  # save used to create it; the temp comes first
            fd, tmp = new_temp_file(out_dir, tmp_prefix_for(filename))
            os.close(fd)
            try:
                # save opens the path by name ('wb'): it writes into the file made above
                save(out_dir, osp.basename(tmp), *args, **kwargs)
                fsync_path(tmp)
                # torch.save's zip archive ends with its directory: present means complete.
                if osp.getsize(tmp) == 0 or not zipfile.is_zipfile(tmp):
                    raise RuntimeError(f'checkpoint {filename} did not verify after '
                                       'writing; the previous checkpoints are kept')
                os.replace(tmp, osp.join(out_dir, filename))
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(tmp)
                raise
            fsync_path(out_dir)
        save_checkpoint.__wrapped__ = save
        return save_checkpoint

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not getattr(self, '_local', False):
            return super()._save_checkpoint_with_step(runner, step, meta)
        # The same bookkeeping as mmengine, in a safe order: write the new checkpoint, then
        # `last_checkpoint`, then delete what max_keep_ckpts no longer keeps.
        to_remove = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            ids = list(self.keep_ckpt_ids) + [step]  # the deque has maxlen: no auto-drop
            to_remove = ids[:-self.max_keep_ckpts]
            self.keep_ckpt_ids = deque(ids[-self.max_keep_ckpts:], self.max_keep_ckpts)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, ckpt_filename, self.file_client_args,
            save_optimizer=self.save_optimizer, save_param_scheduler=self.save_param_scheduler,
            meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        write_text_atomic(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old in to_remove:
            path = osp.join(self.out_dir, self.filename_tmpl.format(old))
            if osp.isfile(path):
                os.remove(path)


# -- random states ----------------------------------------------------------------------------
def get_rng_state() -> dict:
    """The states of every random-number generator training draws from, as tensors and
    plain containers (what torch.load(weights_only=True) reads)."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        'python': (py_version, torch.tensor(py_state, dtype=torch.int64), py_gauss),
        'numpy': (np_name, torch.from_numpy(np_keys.astype(np.int64)), int(np_pos),
                  int(np_has_gauss), float(np_gauss)),
        'torch': torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    py_version, py_state, py_gauss = state['python']
    random.setstate((py_version, tuple(int(v) for v in py_state.tolist()), py_gauss))
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = state['numpy']
    np.random.set_state((np_name, np_keys.numpy().astype(np.uint32), np_pos, np_has_gauss,
                         np_gauss))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        cuda = state['cuda']
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        else:
            print_log('CUDA random states not restored: the checkpoint was written with '
                      f'{len(cuda)} GPUs, this run has {torch.cuda.device_count()}',
                      logger='current', level=30)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Puts the random-number states into every checkpoint; on resume, hands them to the
    train loop, which restores them where the interrupted run stood (for an epoch-based
    loop: at the start of the next epoch, where its end-of-epoch checkpoints were written)."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[RNG_KEY] = get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.pending = checkpoint.get(RNG_KEY)
        if self.pending is None:
            print_log('the checkpoint holds no random-number states (written by another '
                      'tool): the resumed run will not repeat the interrupted one exactly',
                      logger='current', level=30)

    def take(self) -> Optional[dict]:
        state, self.pending = self.pending, None
        return state

    def before_train_epoch(self, runner) -> None:
        if isinstance(runner.train_loop, EpochBasedTrainLoop) and self.pending is not None:
            set_rng_state(self.take())


def _rng_hook(runner) -> Optional[RandomStateHook]:
    return next((h for h in runner.hooks if isinstance(h, RandomStateHook)), None)


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """mmengine's IterBasedTrainLoop; on resume the random states saved with the checkpoint
    are restored after the data loader has been advanced, and validation leaves the random
    states as it found them."""

    def run(self):
        runner = self.runner
        runner.call_hook('before_train')
        runner.call_hook('before_train_epoch')
        if self._iter > 0:
            print_log(f'Advance dataloader {self._iter} steps to skip data that has already '
                      'been trained', logger='current')
            for _ in range(self._iter):
                next(self.dataloader_iterator)
            hook = _rng_hook(runner)
            state = hook.take() if hook is not None else None
            if state is not None:
                set_rng_state(state)
                print_log('restored the random-number states of the checkpoint',
                          logger='current')
        while self._iter < self._max_iters and not self.stop_training:
            runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                state = get_rng_state()
                runner.val_loop.run()
                set_rng_state(state)
        runner.call_hook('after_train_epoch')
        runner.call_hook('after_train')
        return runner.model
