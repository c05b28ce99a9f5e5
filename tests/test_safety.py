"""Every mistake a user makes with the tools ends in one line on stderr, a non-zero exit code
and no traceback — and nothing is lost: tools/convert_checkpoint.py never replaces a good
file with a bad one. The cases are issue 9's (see the table in docs/detection.md#errors).
"""
import json
import os
import re
import os.path as osp
import runpy
import stat
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
pytest.importorskip('mmcv._ext')

from swinv2_mm import SwinTransformerV2  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DET = osp.join(ROOT, 'configs', 'demo', 'cascade_swinv2_demo_synthetic.py')
SEG = osp.join(ROOT, 'configs', 'demo', 'upernet_swinv2_demo_synthetic.py')
COCO = osp.join(ROOT, 'configs', 'cascade_swinv2_tiny_coco.py')
ADE = osp.join(ROOT, 'configs', 'upernet_swinv2_tiny_ade20k.py')
SMALL = dict(embed_dims=32, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8])


def _timm_layout(backbone):
    """A backbone's weights as timm's SwinV2 classifier names them (no output norms but the
    final `norm`): what an ImageNet file looks like."""
    out = {}
    for k, v in backbone.state_dict().items():
        if re.match(r'norm[0-2]\.', k):
            continue
        k = re.sub(r'^norm3\.', 'norm.', k)
        out[k.replace('stages.', 'layers.').replace('projection', 'proj')] = v
    return out


def _tool(name):
    return runpy.run_path(osp.join(ROOT, 'tools', f'{name}.py'))['main']


def _one_line_error(capsys, code, *fragments):
    """The tool returned non-zero and said exactly one line, starting with 'error:'."""
    err = capsys.readouterr().err.strip()
    assert code == 1, err
    assert 'Traceback' not in err
    last = err.splitlines()[-1]
    assert last.startswith('error: '), err
    for fragment in fragments:
        assert fragment in last, last
    return last


# -- files that are no checkpoint, or not of this model -----------------------------------------
@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    from swinv2_mm.demo.coco_shapes import generate
    root = str(tmp_path_factory.mktemp('shapes')) + '/'
    generate(root, num_train=2, num_val=2, image_size=128, seed=3)
    return root


def _det_options(root):
    ann = osp.join(root, 'annotations/instances_val.json')
    return [f'{loader}.dataset.data_root={root}' for loader in
            ('train_dataloader', 'val_dataloader', 'test_dataloader')] + [
        f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}']


def _build(config):
    """The whole model of a config (random weights), as the Runner would build it."""
    from mmengine.config import Config
    import swinv2_mm  # noqa: F401 - registers the backbone
    cfg = Config.fromfile(config)
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
    else:
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """Checkpoints of every wrong kind, and one right one (an untrained detector's)."""
    tmp = tmp_path_factory.mktemp('files')
    det = _build(DET)
    out = {'good': tmp / 'good.pth', 'weights_only': tmp / 'weights_only.pth',
           'empty': tmp / 'empty.pth', 'truncated': tmp / 'truncated.pth',
           'random': tmp / 'random.pth', 'json': tmp / 'json.pth',
           'imagenet': tmp / 'swinv2_imagenet.pth', 'segmentor': tmp / 'upernet.pth',
           'v1': tmp / 'swin_v1.pth', 'safetensors': tmp / 'backbone.safetensors'}
    torch.save({'meta': {'iter': 0, 'epoch': 0}, 'state_dict': det.state_dict()}, out['good'])
    torch.save(det.state_dict(), out['weights_only'])
    out['empty'].write_bytes(b'')
    data = out['good'].read_bytes()
    out['truncated'].write_bytes(data[:len(data) // 2])
    out['random'].write_bytes(os.urandom(4096))
    out['json'].write_text(json.dumps({'state_dict': {}}))
    # the official ImageNet classifier layout of a SwinV2 (timm names), no detector around it
    backbone = SwinTransformerV2(arch=SMALL, window_size=8)
    torch.save({'model': _timm_layout(backbone)}, out['imagenet'])
    torch.save({'meta': {'iter': 0}, 'state_dict': _build(SEG).state_dict()}, out['segmentor'])
    torch.save({'state_dict': {
        'backbone.stages.0.blocks.0.attn.w_msa.relative_position_bias_table':
            torch.zeros(225, 3),
        'backbone.stages.0.blocks.0.attn.w_msa.qkv.weight': torch.zeros(288, 96),
        'backbone.patch_embed.projection.weight': torch.zeros(96, 3, 4, 4)}}, out['v1'])
    save_file({k: v.contiguous() for k, v in backbone.state_dict().items()},
              str(out['safetensors']))
    return {k: str(v) for k, v in out.items()}


CASES = [
    ('empty', 'the file is empty (0 bytes)'),
    ('truncated', 'truncated or damaged'),
    ('random', 'not a checkpoint'),
    ('json', 'not a checkpoint (a JSON/text file'),
    ('imagenet', 'this looks like a backbone-only ImageNet file'),
    ('segmentor', 'does not fit the model of this config'),
    ('v1', 'this is a Swin Transformer V1 checkpoint'),
    ('safetensors', 'is a safetensors weights file'),
]


@pytest.mark.parametrize('name,message', CASES)
def test_test_tool_refuses_unusable_checkpoints(files, data_root, tmp_path, capsys, name,
                                                message):
    code = _tool('test')([DET, files[name], '--work-dir', str(tmp_path),
                          '--cfg-options', *_det_options(data_root)])
    out = capsys.readouterr()
    assert 'coco/bbox_mAP' not in out.out  # no metrics for a refused checkpoint
    print(out.err, file=sys.stderr)
    _one_line_error(capsys, code, message, files[name])


def test_test_tool_accepts_plain_weights_that_fit(files, data_root, tmp_path, capsys):
    code = _tool('test')([DET, files['weights_only'], '--work-dir', str(tmp_path),
                          '--cfg-options', *_det_options(data_root)])
    assert code == 0, capsys.readouterr().err


@pytest.mark.parametrize('name,message', CASES + [
    ('weights_only', 'holds weights only, no training state'),
    ('good', "not a complete tools/train.py checkpoint (no 'message_hub')")])
def test_resume_refuses_unusable_checkpoints(files, data_root, tmp_path, capsys, name,
                                             message):
    opts = _det_options(data_root) + ['train_cfg.max_iters=1', 'train_dataloader.batch_size=1']
    code = _tool('train')([DET, '--work-dir', str(tmp_path), '--resume', files[name],
                           '--cfg-options', *opts])
    _one_line_error(capsys, code, f'--resume {files[name]}', message)


def test_image_demo_refuses_weights_that_do_not_fit(files, data_root, tmp_path):
    """In its own process: mmengine's logger keeps the stream of the first test that made
    it, which pytest has closed by now."""
    image = osp.join(data_root, 'val', sorted(os.listdir(osp.join(data_root, 'val')))[0])
    for name, message in (('segmentor', 'does not fit the model of this config'),
                          ('imagenet', 'use it as init_cfg, not as a model checkpoint')):
        proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'image_demo.py'), image,
                               DET, files[name], '--out-dir', str(tmp_path), '--device', 'cpu'],
                              env=dict(os.environ, OMP_NUM_THREADS='1'), capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 1 and 'Traceback' not in proc.stderr, proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith('error: ')
        assert message in proc.stderr
    assert not osp.exists(osp.join(tmp_path, 'vis'))


def test_unreachable_url(data_root, tmp_path, capsys):
    url = 'http://127.0.0.1:9/iter_300.pth'
    code = _tool('test')([DET, url, '--work-dir', str(tmp_path)])
    _one_line_error(capsys, code, 'could not download http://127.0.0.1:9/iter_300.pth')
    code = _tool('train')([DET, '--work-dir', str(tmp_path), '--resume', url])
    _one_line_error(capsys, code, 'could not download')


def test_swin_v1_checkpoint_is_named_as_such(files):
    from swinv2_mm.checkpoint import CheckpointError, load_pretrained
    model = SwinTransformerV2(arch=SMALL, window_size=8)
    with pytest.raises(CheckpointError, match='is a Swin Transformer V1 checkpoint'):
        load_pretrained(model, files['v1'], prefix='backbone.')


# -- configs, options, data ---------------------------------------------------------------------
@pytest.mark.parametrize('config,name,tree', [
    (COCO, 'COCO', 'annotations/instances_train2017.json, train2017/'),
    (ADE, 'ADE20K', 'images/training/, annotations/training/')])
def test_missing_dataset_names_data_root_tree_and_docs(config, name, tree, tmp_path,
                                                       monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # relative data roots: nothing there
    code = _tool('train')([config, '--work-dir', str(tmp_path / 'w')])
    docs = 'docs/detection.md#datasets' if name == 'COCO' else 'docs/segmentation.md#datasets'
    line = _one_line_error(capsys, code, 'dataset not found', 'data_root=', tree, docs,
                           f'Get {name}', '--cfg-options train_dataloader.dataset.data_root=')
    assert config in line
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'x')
    code = _tool('test')([config, str(ckpt), '--work-dir', str(tmp_path / 'w')])
    _one_line_error(capsys, code, 'dataset not found', 'test_dataloader.dataset.data_root=')


def test_config_with_syntax_error_is_named(tmp_path, capsys):
    bad = tmp_path / 'broken_config.py'
    bad.write_text(f'_base_ = {DET!r}\nmodel = dict(\n')
    code = _tool('train')([str(bad), '--work-dir', str(tmp_path)])
    _one_line_error(capsys, code, str(bad), 'cannot be read as a config', 'line')


def test_misspelt_cfg_option_suggests_the_key(tmp_path, capsys):
    code = _tool('train')([DET, '--work-dir', str(tmp_path), '--cfg-options',
                           'train_dataloader.batchsize=2'])
    _one_line_error(capsys, code, "no 'batchsize' under train_dataloader",
                    'did you mean train_dataloader.batch_size?')


def test_tools_exit_with_one_line_and_no_traceback(tmp_path):
    """As a user sees it: a separate process, its exit code, its stderr."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), COCO],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    assert proc.stderr.strip().startswith('error: dataset not found')
    assert len(proc.stderr.strip().splitlines()) == 1
    # --debug shows where it came from
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), COCO,
                           '--debug'], cwd=str(tmp_path), env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode != 0 and 'Traceback' in proc.stderr
    for args in (['dist_train.sh', COCO], ['dist_test.sh', COCO, 'x.pth']):
        proc = subprocess.run(['bash', osp.join(ROOT, 'tools', args[0]), *args[1:]],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2
        assert proc.stderr.startswith('error: usage: bash tools/dist_')
        assert 'unbound variable' not in proc.stderr


# -- conversion never destroys anything ---------------------------------------------------------
def _convert(*args):
    return subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'convert_checkpoint.py'),
                           *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.fixture
def good_converted(tmp_path):
    src = tmp_path / 'timm.pth'
    backbone = SwinTransformerV2(arch=SMALL, window_size=8)
    torch.save(_timm_layout(backbone), src)
    dst = tmp_path / 'good.safetensors'
    proc = _convert(src, dst)
    assert proc.returncode == 0, proc.stderr
    return src, dst


def test_convert_refuses_to_overwrite_and_keeps_the_good_file(good_converted, tmp_path):
    src, dst = good_converted
    before = dst.read_bytes()
    mode = stat.S_IMODE(os.stat(dst).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # normal permissions, not 0600
    # a Swin V1 file onto the good file, without and with --force
    v1 = tmp_path / 'swin_v1.pth'
    torch.save({'model': {
        'layers.0.blocks.0.attn.relative_position_bias_table': torch.zeros(225, 3),
        'patch_embed.proj.weight': torch.zeros(96, 3, 4, 4)}}, v1)
    for extra in ([], ['--force']):
        proc = _convert(v1, dst, *extra)
        assert proc.returncode == 1 and 'Traceback' not in proc.stderr
        line = proc.stderr.strip()
        if extra:
            assert str(v1) in line and 'Swin Transformer V1' in line, line
        else:
            assert 'exists; pass --force' in line, line
        assert dst.read_bytes() == before
    # truncated source with --force: refused, the good file untouched
    bad = tmp_path / 'truncated.pth'
    bad.write_bytes(src.read_bytes()[:1000])
    proc = _convert(bad, dst, '--force')
    assert proc.returncode == 1 and str(bad) in proc.stderr and 'Traceback' not in proc.stderr
    assert dst.read_bytes() == before
    assert not [n for n in os.listdir(tmp_path) if '.tmp-' in n]  # no temporary left behind
    # --force with a good source replaces it
    proc = _convert(src, dst, '--force')
    assert proc.returncode == 0 and 'replaced the previous file' in proc.stdout


def test_convert_bad_destinations_are_one_line(good_converted, tmp_path):
    src, _ = good_converted
    for dst, message in ((tmp_path / 'no' / 'such' / 'dir' / 'x.safetensors',
                          'destination folder'),
                         (tmp_path, 'is a folder'),
                         (tmp_path / 'x.pth', 'name it *.safetensors')):
        proc = _convert(src, dst)
        assert proc.returncode == 1, proc.stdout
        assert 'Traceback' not in proc.stderr and message in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
