"""The GPU checks of the CUDA path (issue 10): identity with timm and transformers on CUDA in
float32 with TF32 off, fused == plain attention values and gradients, bf16 / fp16 autocast
training steps without NaN/inf, which SDPA kernel the fused path gets, and the benchmark's
`--device cuda` path end to end.

Every test here carries the `gpu` marker: tests/conftest.py skips them, with the reason, where
torch sees no CUDA device (CI); `tools/gpu_run.sh` runs them on a GPU machine.
"""
import importlib.util
import json
import os

import pytest
import torch

from reference_models import (SMALL, perturb_, timm_model, timm_stage_outputs,
                              transformers_backbone, transformers_stage_outputs)
from swinv2_mm import SwinTransformerV2

pytestmark = pytest.mark.gpu
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVICE = 'cuda'  # a module constant, so the checks' logic can be exercised on 'cpu' by hand
TOL = 1e-4        # ours vs the references, float32 (the CPU identity tests' bound)
FUSED_TOL = 1e-5  # fused vs plain attention, float32
TINY = SMALL     # 32 channels, depths 2-2-2-2: seconds per test on a GPU


@pytest.fixture(autouse=True)
def exact_fp32():
    """TF32 off: float32 matmuls and convolutions in full precision, as on the CPU."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def build_ours(checkpoint, window, pretrained_window_sizes=0, arch=TINY):
    model = SwinTransformerV2(arch=arch, window_size=window,
                              pretrained_window_sizes=pretrained_window_sizes,
                              drop_path_rate=0.0,
                              init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint)))
    model.init_weights()
    return model.eval()


def layer_norm_nchw(x):
    """The output norms that reference files lack stay at their init (weight 1, bias 0)."""
    return torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],)).permute(0, 3, 1, 2)


def max_stage_error(ours, refs, normed_last):
    assert len(ours) == len(refs) == 4
    errors = []
    for i, (a, b) in enumerate(zip(ours, refs)):
        if i < 3 or not normed_last:
            b = layer_norm_nchw(b)
        assert a.shape == b.shape, (i, a.shape, b.shape)
        errors.append((a.float() - b.float()).abs().max().item())
    return max(errors)


@pytest.mark.parametrize('img_size,window,pretrained', [
    pytest.param((256, 256), 8, (0, 0, 0, 0), id='256-w8'),
    pytest.param((512, 512), 16, (12, 12, 12, 6), id='512-w16-from-12-6'),
])
def test_identity_with_timm_on_cuda(tmp_path, img_size, window, pretrained):
    ref = timm_model(img_size, window, pretrained, arch=TINY)
    torch.save(ref.state_dict(), tmp_path / 'timm.pth')
    ours = build_ours(tmp_path / 'timm.pth', window, pretrained).to(DEVICE)
    ref = ref.to(DEVICE)
    x = torch.randn(2, 3, *img_size, device=DEVICE)
    with torch.no_grad():
        err = max_stage_error(ours(x), timm_stage_outputs(ref, x), normed_last=True)
    assert err < TOL, f'max abs error vs timm on {DEVICE}: {err:.3g}'


@pytest.mark.parametrize('img_size,window,ref_pretrained,pretrained', [
    pytest.param((224, 320), 8, (0, 0, 0, 0), (8, 8, 8, 7), id='224x320-w8-padded'),
    pytest.param((256, 384), 16, (8, 8, 8, 4), (8, 8, 8, 4), id='256x384-w16-from-w8-padded'),
])
def test_identity_with_transformers_on_cuda(tmp_path, img_size, window, ref_pretrained,
                                            pretrained):
    ref = transformers_backbone(img_size, window, ref_pretrained, arch=TINY)
    ref.save_pretrained(tmp_path / 'hf')
    ours = build_ours(tmp_path / 'hf', window, pretrained).to(DEVICE)
    ref = ref.to(DEVICE)
    x = torch.randn(2, 3, *img_size, device=DEVICE)
    with torch.no_grad():
        err = max_stage_error(ours(x), transformers_stage_outputs(ref, x), normed_last=False)
    assert err < TOL, f'max abs error vs transformers on {DEVICE}: {err:.3g}'


def small_model(window=8, fused=True, seed=0):
    torch.manual_seed(seed)
    model = SwinTransformerV2(arch=TINY, window_size=window, drop_path_rate=0.0,
                              fused_attention=fused)
    model.init_weights()
    return perturb_(model, seed=seed).to(DEVICE)  # res-post-norm starts at 0: move it


# Two images (the per-image path of shifted windows) of a size that needs patch and window
# padding, and one image (windows and images flattened together): every CUDA attention path.
@pytest.mark.parametrize('shape', [(2, 3, 100, 140), (1, 3, 136, 72)])
def test_fused_matches_plain_on_cuda(shape):
    fused, plain = small_model(fused=True), small_model(fused=False)
    x = torch.randn(*shape, device=DEVICE)
    with torch.no_grad():
        err = max((a - b).abs().max().item() for a, b in zip(fused(x), plain(x)))
    assert err < FUSED_TOL, f'eval: max abs error {err:.3g}'
    grads = []
    for model in (fused.train(), plain.train()):
        xi = x.clone().requires_grad_()
        loss = sum((o * o).mean() for o in model(xi))
        grads.append(torch.autograd.grad(loss, [xi] + list(model.parameters())))
    names = ['input'] + [n for n, _ in fused.named_parameters()]
    for name, a, b in zip(names, *grads):
        rel = (a - b).abs().max().item() / (b.abs().max().item() + 1e-12)
        assert rel < FUSED_TOL, f'gradient of {name}: relative error {rel:.3g}'


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16], ids=['bf16', 'fp16'])
def test_autocast_training_steps_are_finite(dtype):
    """A few optimizer steps under autocast (fp16 with loss scaling, as `--amp` trains) on an
    input that needs padding: loss, gradients and outputs stay finite."""
    model = small_model().train()
    optim = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler('cuda', enabled=dtype == torch.float16)
    x = torch.randn(2, 3, 100, 140, device=DEVICE)
    for _ in range(3):
        optim.zero_grad(set_to_none=True)
        with torch.autocast(DEVICE, dtype=dtype):
            outs = model(x)
            loss = sum(o.float().pow(2).mean() for o in outs)
        assert torch.isfinite(loss), f'loss {loss.item()}'
        scaler.scale(loss).backward()
        scaler.unscale_(optim)
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
        scaler.step(optim)
        scaler.update()
    with torch.no_grad(), torch.autocast(DEVICE, dtype=dtype):
        assert all(torch.isfinite(o).all() for o in model.eval()(x))


@pytest.mark.parametrize('mode', ['eval', 'train'])
def test_fused_path_gets_a_fused_sdpa_kernel(mode):
    """The fused path must reach one of SDPA's fused CUDA kernels (cuDNN, flash or memory-
    efficient), never its math fallback, which materialises the (windows, heads, N, N)
    probabilities: a silent fallback would cost the memory and speed this path exists for."""
    from torch.profiler import ProfilerActivity, profile
    model = small_model().train(mode == 'train')
    x = torch.randn(2, 3, 128, 128, device=DEVICE)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with torch.autocast(DEVICE, dtype=torch.bfloat16), torch.set_grad_enabled(mode == 'train'):
            outs = model(x)
            if mode == 'train':
                sum(o.float().mean() for o in outs).backward()
        torch.cuda.synchronize()
    names = {e.key for e in prof.key_averages()}
    fused = {n for n in names if n.startswith('aten::_scaled_dot_product_')
             and ('efficient' in n or 'flash' in n or 'cudnn' in n)}
    assert fused, sorted(n for n in names if 'attention' in n)
    assert 'aten::_scaled_dot_product_attention_math' not in names, sorted(fused)


def test_benchmark_cuda_path_writes_its_record(tmp_path):
    """tools/benchmark.py --device cuda end to end (tiny sizes): timing, allocator peak
    memory in fresh processes, the GPU named in the JSON record."""
    spec = importlib.util.spec_from_file_location(
        'swinv2_benchmark', os.path.join(ROOT, 'tools', 'benchmark.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / 'cuda.json'
    bench.main(['--device', 'cuda', '--quick', '--impl', 'ours', 'timm', '--mode', 'eval',
                'train', '--dtype', 'bf16', '--shape', '1x128x128', '--memory',
                '--json', str(out)])
    record = json.loads(out.read_text())
    assert record['complete'] and record['machine']['gpu']
    rows = record['rows']
    assert {r['impl'] for r in rows} == {'ours', 'timm'}
    assert all(r['median_ms'] > 0 and r['peak_mib'] and r['peak_mib'] > 0 for r in rows)
