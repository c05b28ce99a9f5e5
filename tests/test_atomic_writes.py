"""The temporary files of swinv2_mm.engine.resume are created exclusively (mkstemp) in the
target folder: a symlink planted at a predictable name is never followed, the final file has
the mode a plain open() gives, and nothing unfinished is left or picked by auto-resume."""
import glob
import os
import os.path as osp
import zipfile

import pytest
import torch

from swinv2_mm.engine.checkpoint_files import checkpoints_newest_first
from swinv2_mm.engine.resume import AtomicCheckpointHook, write_text_atomic

VICTIM_TEXT = 'precious data\n'


@pytest.fixture
def umask_027():
    # A umask that gives neither mkstemp's 0600 nor the usual 0644, so the mode check bites.
    old = os.umask(0o027)
    yield 0o666 & ~0o027
    os.umask(old)


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / 'victim'
    path.write_text(VICTIM_TEXT)
    return path


def fake_save(out_dir, filename, *args, **kwargs):
    # What mmengine's Runner.save_checkpoint does in the end: open the path by name, write.
    torch.save({'x': torch.zeros(1)}, osp.join(out_dir, filename))


def test_write_text_atomic_ignores_a_planted_symlink(tmp_path, victim, umask_027):
    work = tmp_path / 'work'
    work.mkdir()
    path = work / 'last_checkpoint'
    planted = f'{path}.tmp-{os.getpid()}'  # the name the old code wrote to
    os.symlink(victim, planted)

    write_text_atomic(str(path), 'work/iter_1.pth')

    assert victim.read_text() == VICTIM_TEXT
    assert path.read_text() == 'work/iter_1.pth'
    assert not path.is_symlink()
    assert os.stat(path).st_mode & 0o777 == umask_027
    assert sorted(os.listdir(work)) == sorted(['last_checkpoint', osp.basename(planted)])


def test_checkpoint_save_ignores_a_planted_symlink(tmp_path, victim, umask_027):
    work = tmp_path / 'work'
    work.mkdir()
    planted = work / f'.iter_1.pth.tmp-{os.getpid()}'  # the name the old code wrote to
    os.symlink(victim, planted)

    AtomicCheckpointHook._atomic(fake_save)(str(work), 'iter_1.pth')

    assert victim.read_text() == VICTIM_TEXT
    ckpt = work / 'iter_1.pth'
    assert not ckpt.is_symlink() and zipfile.is_zipfile(ckpt)
    assert torch.load(ckpt, weights_only=True)['x'].shape == (1,)
    assert os.stat(ckpt).st_mode & 0o777 == umask_027
    assert sorted(os.listdir(work)) == sorted(['iter_1.pth', planted.name])


def test_checkpoint_save_creates_a_missing_out_dir(tmp_path):
    out = tmp_path / 'not' / 'yet'
    AtomicCheckpointHook._atomic(fake_save)(str(out), 'iter_1.pth')
    assert os.listdir(out) == ['iter_1.pth']


def _raises(out_dir, filename, *args, **kwargs):
    with open(osp.join(out_dir, filename), 'wb') as f:
        f.write(b'PK\x03\x04 half a checkpoint')
    raise OSError('disk full')


def _writes_garbage(out_dir, filename, *args, **kwargs):
    with open(osp.join(out_dir, filename), 'wb') as f:
        f.write(b'PK\x03\x04 no zip directory')


def _writes_nothing(out_dir, filename, *args, **kwargs):
    pass


@pytest.mark.parametrize('save, error', [(_raises, OSError), (_writes_garbage, RuntimeError),
                                         (_writes_nothing, RuntimeError)])
def test_failed_save_keeps_the_previous_checkpoint(tmp_path, save, error):
    old = tmp_path / 'iter_1.pth'
    torch.save({'old': torch.ones(2)}, old)
    before = old.read_bytes()

    with pytest.raises(error):
        AtomicCheckpointHook._atomic(save)(str(tmp_path), 'iter_1.pth')

    assert old.read_bytes() == before
    assert os.listdir(tmp_path) == ['iter_1.pth']  # no temporary file left


def test_temp_name_is_cleaned_up_and_never_resumed_from(tmp_path):
    seen = {}

    def save(out_dir, filename, *args, **kwargs):
        # while the save runs: the temp file exists under a name that the stale-file
        # cleanup of before_train removes and that auto-resume never picks
        seen['name'] = filename
        seen['stale'] = [osp.basename(p) for p in glob.glob(osp.join(out_dir, '.*.pth.tmp-*'))]
        seen['resume'] = checkpoints_newest_first(out_dir)
        fake_save(out_dir, filename)

    AtomicCheckpointHook._atomic(save)(str(tmp_path), 'iter_5.pth')

    name = seen['name']
    assert name.startswith('.iter_5.pth.tmp-') and name != f'.iter_5.pth.tmp-{os.getpid()}'
    assert seen['stale'] == [name]
    assert seen['resume'] == []
    assert os.listdir(tmp_path) == ['iter_5.pth']
