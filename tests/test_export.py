"""ONNX export (swinv2_mm/deploy, tools/export_onnx.py): one graph for every input size,
checked with onnxruntime against eager PyTorch; small random-weight models, CPU, seconds."""
import os.path as osp
import pytest
import torch
from torch import nn

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')

from swinv2_mm.deploy import (DynamicAdaptiveAvgPool2d, check_sizes, export_onnx,  # noqa: E402
                              load_export_model, swin_v2_forward, verify)
from swinv2_mm.deploy.onnx_export import TOLERANCE, stage_maps  # noqa: E402
from swinv2_mm.engine.errors import ToolError  # noqa: E402
from swinv2_mm.models import SwinTransformerV2  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(ROOT, 'tools', 'export_onnx.py')
TINY = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))


def _perturb(model: nn.Module, seed: int = 0) -> nn.Module:
    """Weights away from the init, where res-post-norm zeros every residual branch and the
    attention would not reach the outputs at all."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2 + (1.0 if p.dim() == 1 else 0))
    return model.eval()


def _backbone_config(tmp_path, window_size=(8, 8, 4, 4), pretrained=(8, 4, 0, 4)) -> str:
    path = tmp_path / 'backbone_cfg.py'
    path.write_text(f"model = dict(type='SwinTransformerV2', embed_dims={TINY['embed_dims']}, "
                    f"depths={TINY['depths']}, num_heads={TINY['num_heads']}, "
                    f'window_size={list(window_size)}, '
                    f'pretrained_window_sizes={list(pretrained)}, drop_path_rate=0.1)\n')
    return str(path)


def _backbone_checkpoint(tmp_path, cfg_path) -> str:
    """A perturbed backbone's weights in the package's own layout (a plain state dict)."""
    em = load_export_model(cfg_path)
    _perturb(em.model)
    path = tmp_path / 'weights.pth'
    torch.save(em.model.state_dict(), path)
    return str(path)


class _Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _run_tool(capsys, *args) -> _Result:
    """tools/export_onnx.py's main() in this process (mmdet/mmseg are imported once)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('export_onnx_tool', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    capsys.readouterr()
    code = tool.main(list(args))
    out, err = capsys.readouterr()
    return _Result(code, out, err)


def test_rewrite_is_the_eager_network():
    """The export forward (branch-free windows, shifts, masks, CPB tables) equals the
    backbone's own forward, on sizes that pad, shift, clip and stay square."""
    torch.manual_seed(0)
    model = _perturb(SwinTransformerV2(**TINY, window_size=[8, 8, 4, 4],
                                       pretrained_window_sizes=[8, 4, 0, 4]))
    for b, h, w in [(2, 128, 128), (1, 131, 190), (2, 97, 61), (1, 33, 300), (1, 20, 20)]:
        x = torch.randn(b, 3, h, w)
        with torch.no_grad():
            expected, got = model(x), swin_v2_forward(model, x)
        assert len(expected) == len(got) == 4
        for e, g in zip(expected, got):
            assert e.shape == g.shape
            assert (e - g).abs().max() < 1e-5, (b, h, w)


def test_adaptive_pool_matches_torch():
    for size, out in [((13, 29), (6, 6)), ((4, 3), (6, 6)), ((32, 32), (3, 2)), ((7, 7), 2)]:
        x = torch.randn(2, 3, *size)
        torch.testing.assert_close(DynamicAdaptiveAvgPool2d(out)(x),
                                   nn.AdaptiveAvgPool2d(out)(x), rtol=0, atol=1e-6)


def test_check_sizes_cover_padding_and_a_clipped_last_stage():
    model = SwinTransformerV2(**TINY, window_size=8)
    sizes = check_sizes(model, 1, 128, 160)
    assert len(sizes) == 4 and sizes[0] == (1, 128, 160)
    padded = [sum(min(h, w) > 8 and bool(h % 8 or w % 8) for h, w in stage_maps(model, *s[1:]))
              for s in sizes]
    assert padded[1] >= 2                                   # padding at several stages
    assert min(stage_maps(model, *sizes[2][1:])[-1]) < 8    # last stage below the window
    assert sizes[3][0] == 2                                 # another batch size


def test_backbone_export_is_one_graph_for_every_size(tmp_path):
    """A backbone config + weights file -> ONNX at one size; onnxruntime agrees with eager at
    that size and at the three other check sizes (batch 1 and 2)."""
    cfg = _backbone_config(tmp_path)
    ckpt = _backbone_checkpoint(tmp_path, cfg)
    em = load_export_model(cfg, ckpt)
    saved = torch.load(ckpt, weights_only=True)  # the checkpoint's weights were loaded
    assert torch.equal(em.backbone.stages[1].blocks[1].attn.cpb_mlp[0].weight,
                       saved['stages.1.blocks.1.attn.cpb_mlp.0.weight'])
    assert em.kind == 'backbone' and em.output_names == ['stage0', 'stage1', 'stage2', 'stage3']
    out = str(tmp_path / 'backbone.onnx')
    export_onnx(em, out, 1, 96, 128, dynamic=True)
    sizes = check_sizes(em.backbone, 1, 96, 128) + [(2, 45, 37)]
    rows = verify(em, out, sizes, log=lambda *_: None)
    assert [r[0] for r in rows] == sizes
    assert all(err <= TOLERANCE for _, err in rows)
    graph_inputs = onnx.load(out).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in graph_inputs] == ['batch', 3, 'height', 'width']


def test_graph_does_not_depend_on_the_example_size(tmp_path):
    """Exported at two example sizes (one clipped, one padded), the graphs are identical:
    no constant of the graph was taken from the example input's size."""
    em = load_export_model(_backbone_config(tmp_path))
    graphs = []
    for i, (h, w) in enumerate([(64, 64), (150, 230)]):
        out = str(tmp_path / f'g{i}.onnx')
        export_onnx(em, out, 1 + i, h, w, dynamic=True)
        g = onnx.load(out).graph
        graphs.append(([n.op_type for n in g.node],
                       sorted((t.name, onnx.numpy_helper.to_array(t).tobytes())
                              for t in g.initializer)))
    assert graphs[0][0] == graphs[1][0]
    assert graphs[0][1] == graphs[1][1]


def test_a_mismatch_is_an_error(tmp_path):
    em = load_export_model(_backbone_config(tmp_path))
    out = str(tmp_path / 'b.onnx')
    export_onnx(em, out, 1, 64, 64)
    with torch.no_grad():  # the eager model changes after export: the check must notice
        em.backbone.norm3.bias.add_(1e-2)
    with pytest.raises(ToolError, match='differs from eager PyTorch'):
        verify(em, out, [(1, 64, 64)], log=lambda *_: None)
    # a failing check leaves the file that was there as it was, and no temporary file
    before = open(out, 'rb').read()

    def failing_check(path):
        assert osp.isfile(path) and path != out  # the check sees the new file, not `out`
        raise ToolError('exported model differs from eager PyTorch (simulated)')
    with pytest.raises(ToolError, match='differs from eager PyTorch'):
        export_onnx(em, out, 2, 80, 96, check=failing_check)
    assert open(out, 'rb').read() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['b.onnx', 'backbone_cfg.py']


def test_segmentor_export_tool(tmp_path, capsys):
    """mmseg EncoderDecoder + UperNet (the demo config) through the command line: logits at
    the input size, four sizes checked and printed."""
    out = tmp_path / 'seg.onnx'
    res = _run_tool(capsys, osp.join(ROOT, 'configs/demo/upernet_swinv2_demo_synthetic.py'),
                    '--out', str(out), '--shape', '96', '128', '--dynamic')
    assert res.returncode == 0, res.stderr[-2000:]
    checked = [ln for ln in res.stdout.splitlines() if ln.startswith('  ') and 'error' in ln]
    assert len(checked) == 4 and all(' ok ' in ln for ln in checked), res.stdout
    sess = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    logits = sess.run(None, {'input': torch.randn(1, 3, 75, 141).numpy()})[0]
    assert logits.shape == (1, 5, 75, 141)


def test_detector_backbone_and_neck_export(tmp_path):
    """mmdet detector: backbone + FPN exported; the heads are not (mmcv RoI ops)."""
    em = load_export_model(osp.join(ROOT, 'configs/demo/cascade_swinv2_demo_synthetic.py'))
    assert em.kind == 'detector' and len(em.output_names) == 5  # FPN P2-P6
    out = str(tmp_path / 'det.onnx')
    export_onnx(em, out, 1, 96, 96, dynamic=True)
    rows = verify(em, out, check_sizes(em.backbone, 1, 96, 96), log=lambda *_: None)
    assert len(rows) == 4 and max(err for _, err in rows) <= TOLERANCE


@pytest.mark.parametrize('args, message', [
    (['missing_config.py', '--out', 'x.onnx'], 'config file not found'),
    (['configs/demo/upernet_swinv2_demo_synthetic.py', 'no_such.pth', '--out', 'x.onnx'],
     'checkpoint file not found'),
    (['configs/demo/upernet_swinv2_demo_synthetic.py', '--out', 'x.txt'], 'name the output'),
])
def test_mistakes_are_one_line_errors(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    res = _run_tool(capsys, *args)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith('error: ') and message in lines[-1], res.stderr
    assert 'Traceback' not in res.stderr


def test_unsupported_model_is_refused(tmp_path, capsys):
    cfg = tmp_path / 'other.py'
    cfg.write_text("default_scope = 'mmseg'\nmodel = dict(type='EncoderDecoder', "
                   "backbone=dict(type='ResNetV1c', depth=18))\n")
    with pytest.raises(ToolError, match='rewrites SwinTransformerV2 only'):
        load_export_model(str(cfg))
    res = _run_tool(capsys, str(cfg), '--out', str(tmp_path / 'x.onnx'))
    assert res.returncode == 1 and 'SwinTransformerV2 only' in res.stderr
