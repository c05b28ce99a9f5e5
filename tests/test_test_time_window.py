"""Test-time window (`tools/test.py CONFIG CKPT --window W`, swinv2_mm/engine/inference_window.py):
the CPB keeps the coordinate normalisation the model was trained with, so at the training
window nothing changes and at a larger one the bias table is the trained MLP evaluated on a
wider coordinate range; nothing is re-initialised. Driven through the tools' own functions,
mmengine's Runner and, once, the command line."""
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from reference_models import perturb_
from swinv2_mm.engine import ToolError, build_runner, prepare_test_config, run_test
from swinv2_mm.engine.inference_window import set_test_window, window_from_options

pytest.importorskip('mmseg')

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SEG_DEMO = osp.join(ROOT, 'configs/demo/upernet_swinv2_demo_synthetic.py')
DET_DEMO = osp.join(ROOT, 'configs/demo/cascade_swinv2_demo_synthetic.py')


def _cfg(path: str) -> Config:
    return Config.fromfile(osp.join(ROOT, path))


# -- which normalisation each config keeps ---------------------------------------------------------
@pytest.mark.parametrize('config, window, expected_pretrained', [
    # pretrained checkpoints: their windows stay whatever the test window
    ('configs/upernet_swinv2_tiny_ade20k.py', [24], [8, 8, 8, 8]),
    ('configs/htc_swinv2_base_w32_coco_1536.py', [48], [12, 12, 12, 6]),
    ('configs/upernet_swinv2_large_w40_ade20k_640.py', [56], [12, 12, 12, 6]),
    # trained from scratch (pretrained windows 0): the window each stage trained with; the
    # segmentation demo's 128 crops gave 32, 16, 8, 4-token maps, so its last stage ran one
    # 4x4 window (normalised by 4)
    (SEG_DEMO, [16], [8, 8, 8, 4]),
    # no fixed training size (multi-size detection data): the configured window
    (DET_DEMO, [16], [8, 8, 8, 8]),
    # one window per stage; a stage whose window stays keeps its 0 (nothing changes there)
    (SEG_DEMO, [8, 12, 8, 8], [0, 8, 0, 0]),
])
def test_test_window_keeps_the_trained_normalisation(config, window, expected_pretrained):
    cfg = _cfg(config)
    line = set_test_window(cfg, window)
    assert list(cfg.model.backbone.window_size) == (window * 4 if len(window) == 1 else window)
    assert list(cfg.model.backbone.pretrained_window_sizes) == expected_pretrained
    # the line names the equivalent options for mmdet's and mmseg's own tools
    assert f'model.backbone.pretrained_window_sizes=[{",".join(map(str, expected_pretrained))}]' \
        in line


def test_at_the_training_window_the_config_is_unchanged():
    cfg, before = _cfg(SEG_DEMO), _cfg(SEG_DEMO)
    set_test_window(cfg, [8])
    assert list(cfg.model.backbone.window_size) == [8] * 4
    assert list(cfg.model.backbone.pretrained_window_sizes) == [0] * 4
    before.model.backbone.window_size = [8] * 4
    before.model.backbone.pretrained_window_sizes = [0] * 4
    assert cfg.model.backbone == before.model.backbone


@pytest.mark.parametrize('window, message', [
    ([0], 'give one window (an int >= 1) for every stage, or 4'),
    ([16, 16], 'or 4 (one per stage)'),
])
def test_bad_windows_are_one_line_errors(window, message):
    with pytest.raises(ToolError, match=message.replace('(', r'\(').replace(')', r'\)')):
        set_test_window(_cfg(SEG_DEMO), window)
    cfg = _cfg(SEG_DEMO)
    cfg.model.backbone = dict(type='ResNet', depth=50)
    with pytest.raises(ToolError, match="model.backbone is 'ResNet'"):
        set_test_window(cfg, [16])


def test_cfg_options_window_alone_is_read_as_window():
    assert window_from_options(None, {'model.backbone.window_size': 48, 'a': 1}) == (
        48, {'a': 1})
    explicit = {'model.backbone.window_size': 48,
                'model.backbone.pretrained_window_sizes': [48] * 4}
    assert window_from_options(None, explicit) == (None, explicit)
    with pytest.raises(ToolError, match='both set the window'):
        window_from_options([48], {'model.backbone.window_size': 48})


# -- the trained model at another window, through the Runner ------------------------------------
@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Generated ADE-format data and a checkpoint of the demo segmentor whose weights (CPB
    MLPs included) are far from their initialisation."""
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    from swinv2_mm.demo.ade_shapes import generate
    tmp = tmp_path_factory.mktemp('test_window')
    data_root = generate(str(tmp / 'data'), num_train=1, num_val=2, seed=2)
    options = {f'{d}.dataset.data_root': data_root
               for d in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
    register_all_modules()
    cfg = _cfg(SEG_DEMO)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    perturb_(model, std=0.3)
    path = str(tmp / 'trained.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path, options, str(tmp / 'work')


def _reference_table(state: dict, prefix: str, window: int, normalised_by: int) -> torch.Tensor:
    """16 * sigmoid(MLP(coordinates)) with the checkpoint's MLP weights, the coordinates of a
    `window` window normalised by `normalised_by` (the paper's log-spaced CPB input), gathered
    to (heads, N, N); written out here independently of the package."""
    r = torch.arange(-(window - 1), window, dtype=torch.float32)
    grid = torch.stack(torch.meshgrid(r, r, indexing='ij'), -1) / (normalised_by - 1) * 8
    coords = torch.sign(grid) * torch.log2(grid.abs() + 1) / math.log2(8)
    hidden = F.relu(F.linear(coords.reshape(-1, 2), state[prefix + 'cpb_mlp.0.weight'],
                             state[prefix + 'cpb_mlp.0.bias']))
    table = 16 * torch.sigmoid(F.linear(hidden, state[prefix + 'cpb_mlp.2.weight']))
    ys, xs = torch.meshgrid(torch.arange(window), torch.arange(window), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    index = (ys[:, None] - ys[None] + window - 1) * (2 * window - 1) + (xs[:, None] - xs[None]
                                                                         + window - 1)
    return table[index].permute(2, 0, 1)


def _tested_model(checkpoint, options, work_dir, window=None, extra=None):
    cfg = prepare_test_config(SEG_DEMO, checkpoint, work_dir=work_dir, window=window,
                              cfg_options=dict(options, **(extra or {})))
    runner = build_runner(cfg)
    runner.load_or_resume()  # what runner.test() does first
    return cfg, runner.model


def test_larger_window_evaluates_the_trained_mlp_on_wider_coordinates(trained):
    checkpoint, options, work_dir = trained
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    cfg, model = _tested_model(checkpoint, options, work_dir, window=[16])
    assert list(cfg.model.backbone.pretrained_window_sizes) == [8, 8, 8, 4]
    # nothing re-initialised: every tensor is the checkpoint's
    for name, value in model.state_dict().items():
        assert torch.equal(value, state[name]), name
    backbone = model.backbone
    with torch.no_grad():
        for stage, normalised_by in ((0, 8), (3, 4)):
            attn = backbone.stages[stage].blocks[1].attn
            prefix = f'backbone.stages.{stage}.blocks.1.attn.'
            wider = attn.position_bias(16)
            assert wider.shape == (attn.num_heads, 256, 256)
            torch.testing.assert_close(wider, _reference_table(state, prefix, 16, normalised_by),
                                       rtol=1e-5, atol=1e-5)
        # Changing window_size alone re-normalises by the new window: another bias, silently.
        _, naive = _tested_model(checkpoint, options, work_dir,
                                 extra={'model.backbone.window_size': 16,
                                        'model.backbone.pretrained_window_sizes': [0] * 4})
        naive_bias = naive.backbone.stages[0].blocks[1].attn.position_bias(16)
        assert (naive_bias - wider).abs().max() > 1e-2
        # --cfg-options model.backbone.window_size=16 alone means --window 16
        cfg_opt, _ = _tested_model(checkpoint, options, work_dir,
                                   extra={'model.backbone.window_size': 16})
        assert cfg_opt.model.backbone == cfg.model.backbone


@pytest.fixture(scope='module')
def metrics(trained):
    """IoUMetric on the held-out images through tools/test.py's functions, per --window."""
    checkpoint, options, work_dir = trained
    out = {}
    for window, dtype in ((None, 'fp32'), ([8], 'fp32'), ([16], 'fp32'), ([16], 'bf16')):
        cfg = prepare_test_config(SEG_DEMO, checkpoint, work_dir=work_dir, window=window,
                                  dtype=dtype, cfg_options=dict(options, **{
                                      'visualizer.name': f'test_window_{window}_{dtype}'}))
        out[str(window), dtype] = run_test(cfg)
    return out


def test_training_window_changes_nothing_and_larger_window_evaluates(metrics):
    assert metrics['[8]', 'fp32'] == metrics['None', 'fp32']
    for key in (('[16]', 'fp32'), ('[16]', 'bf16')):
        assert all(0.0 <= metrics[key][k] <= 100.0 for k in ('aAcc', 'mIoU', 'mAcc')), key


def test_mmseg_own_test_tool_with_the_printed_options(trained, metrics, tmp_path):
    """mmseg's packaged tools/test.py with the --cfg-options that `--window 16` prints gives
    the metrics of tools/test.py --window 16."""
    import glob
    import json
    import subprocess
    import sys

    import mmseg
    checkpoint, options, _ = trained
    tool = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'test.py')
    args = [sys.executable, tool, SEG_DEMO, checkpoint, '--work-dir', str(tmp_path),
            '--cfg-options', 'model.backbone.window_size=[16,16,16,16]',
            'model.backbone.pretrained_window_sizes=[8,8,8,4]'] + \
        [f'{k}={v}' for k, v in options.items()]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    (record,) = glob.glob(str(tmp_path / '*' / '*.json'))
    with open(record) as f:
        theirs = json.load(f)
    ours = metrics['[16]', 'fp32']
    assert {k: theirs[k] for k in ('aAcc', 'mIoU', 'mAcc')} == {
        k: ours[k] for k in ('aAcc', 'mIoU', 'mAcc')}


def _test_tool():
    """tools/test.py as a module: its main(argv) is what the command line runs."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('swinv2_mm_test_tool',
                                                  osp.join(ROOT, 'tools', 'test.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_test_tool_window_flag(trained, capsys):
    checkpoint, options, work_dir = trained
    tool = _test_tool()
    args = [SEG_DEMO, checkpoint, '--work-dir', work_dir, '--window', '16', '--cfg-options'] \
        + [f'{k}={v}' for k, v in options.items()] + ['visualizer.name=test_window_tool']
    assert tool.main(args) == 0
    out = capsys.readouterr()
    assert 'pretrained_window_sizes [0, 0, 0, 0] -> [8, 8, 8, 4]' in out.out + out.err
    assert 'mIoU' in out.out + out.err
    assert tool.main([SEG_DEMO, checkpoint, '--window', '16', '16']) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        'error: --window 16 16: give one window (an int >= 1) for every stage, or 4 (one per '
        'stage)']
