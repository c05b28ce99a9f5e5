"""How the tools end (issue 22): `tools/test.py --show-dir` with only the test split on disk,
the distributed launchers' one-line errors, the file mode of an exported .onnx, and a
download error that suggests only the flags of the tool that hit it."""
import os
import os.path as osp
import shutil
import stat
import subprocess
import sys

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PY = sys.executable
DEMO_SEG = 'configs/demo/upernet_swinv2_demo_synthetic.py'


def tool(*args, timeout=600, env=None, cwd=ROOT):
    return subprocess.run([PY, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env=dict(os.environ, OMP_NUM_THREADS='1', **(env or {})))


def test_show_dir_with_only_the_test_split(tmp_path):
    """mmseg's visualization hook asks the Runner for its iteration, which used to build the
    train loop and its data loader: `FileNotFoundError: ... images/training` after one
    image. A test run now builds nothing of training."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    import swinv2_mm  # noqa: F401  (registers the backbone)
    from swinv2_mm.demo.ade_shapes import generate
    data_root = generate(str(tmp_path / 'data'), num_train=1, num_val=2, seed=3)
    for split in ('images', 'annotations'):
        shutil.rmtree(osp.join(data_root, split, 'training'))
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(osp.join(ROOT, DEMO_SEG)).model)
    checkpoint = tmp_path / 'weights.pth'
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    show = tmp_path / 'vis'
    proc = tool('tools/test.py', DEMO_SEG, str(checkpoint), '--show-dir', str(show),
                '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                f'test_dataloader.dataset.data_root={data_root}')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'mIoU' in proc.stdout
    pictures = [f for _, _, files in os.walk(show) for f in files if f.endswith('.png')]
    assert len(pictures) == 2, pictures


def test_dist_train_stops_a_mistake_before_launching_in_one_line(tmp_path):
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', DEMO_SEG, '2', '--cfg-options',
         f'train_dataloader.dataset.data_root={tmp_path}/nothing'], cwd=ROOT, timeout=600,
        capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith('error: dataset not found: train_dataloader.dataset.data_root=')
    assert proc.stdout == ''


def test_a_failure_inside_the_processes_ends_in_one_line(tmp_path):
    """What only shows once the processes run: each process's `error: ...` line, once, and
    none of torchrun's traceback or failure table."""
    script = tmp_path / 'fails.py'
    script.write_text('import os, sys\nprint("a warning", file=sys.stderr)\n'
                      'print("error: the checkpoint does not fit", file=sys.stderr)\n'
                      'sys.exit(1)\n')
    proc = tool('-m', 'swinv2_mm.engine.dist_run', '--nproc_per_node=2',
                '--master_port=29533', str(script), env={'PYTHONPATH': ROOT})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        'error: the checkpoint does not fit (2 of 2 processes)'], proc.stderr


def test_onnx_file_is_readable_by_others(tmp_path):
    config = tmp_path / 'backbone.py'
    config.write_text("custom_imports = dict(imports=['swinv2_mm'])\n"
                      "model = dict(type='SwinTransformerV2', arch=dict(embed_dims=8, "
                      "depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1]), window_size=4)\n")
    out = tmp_path / 'b.onnx'
    proc = tool('tools/export_onnx.py', str(config), '--out', str(out), '--shape', '64', '64')
    assert proc.returncode == 0, proc.stderr[-2000:]
    from swinv2_mm.checkpoint.io import new_file_mode
    assert stat.S_IMODE(out.stat().st_mode) == new_file_mode() == 0o666 & ~_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['b.onnx', 'backbone.py']


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_convert_download_error_suggests_only_its_own_flags(tmp_path):
    proc = tool('tools/convert_checkpoint.py', 'http://127.0.0.1:9/swinv2_tiny.pth',
                str(tmp_path / 'out.safetensors'), env={'TORCH_HOME': str(tmp_path / 'hub')})
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith('error: could not download http://127.0.0.1:9/swinv2_tiny.pth')
    assert line.endswith('pass the local file as SRC') and '--cfg-options' not in line
