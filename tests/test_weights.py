"""Every public SwinV2 weight and size: torchvision's layout and its own model, the SimMIM
releases (rpe_mlp, encoder./decoder., mask token), arch 'huge' / 'giant', and weights by
name (official file names, Hub ids, timm names, torchvision://, SimMIM names) resolved from
caches the tests build themselves. No network."""
import os
import sys
import types

import pytest
import torch
from safetensors.torch import save_file

from reference_models import (SMALL, official_to_mmpretrain, official_to_simmim, perturb_,
                              save_all_formats, timm_model, timm_stage_outputs,
                              timm_to_official, torchvision_model, torchvision_stage_outputs)
from swinv2_mm import SwinTransformerV2
from swinv2_mm.checkpoint import CheckpointError, convert, detect_format, read_checkpoint
from swinv2_mm.checkpoint.loader import load_pretrained
from swinv2_mm.checkpoint.zoo import ZOO, lookup, markdown_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = 1e-4
# Largest difference per reference in this file (printed with -s; the report quotes it).
MAX_ERRORS = {}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)  # the inputs, so that the printed differences repeat run to run


def build(checkpoint, window_size=8, pretrained_window_sizes=0, arch=SMALL, **kwargs):
    model = SwinTransformerV2(
        arch=arch, window_size=window_size, pretrained_window_sizes=pretrained_window_sizes,
        drop_path_rate=0.0, init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint)),
        **kwargs)
    model.init_weights()
    return model.eval()


def assert_close(ours, refs, reference):
    """Stages 0-2 through a plain LayerNorm (the output norms no classifier has stay at
    their init), the last through the loaded final norm."""
    assert len(ours) == len(refs)
    for i, (a, b) in enumerate(zip(ours, refs)):
        if i < len(refs) - 1:
            b = torch.nn.functional.layer_norm(b.permute(0, 2, 3, 1), (b.shape[1],))
            b = b.permute(0, 3, 1, 2)
        err = (a - b).abs().max().item()
        MAX_ERRORS[reference] = max(MAX_ERRORS.get(reference, 0.0), err)
        assert err < TOL, f'{reference} stage {i}: max abs error {err:.3g}'


# --- torchvision ------------------------------------------------------------------------
# Where torchvision's padding and shifting coincide with ours: every map larger than the
# window (padded or not) or exactly one window. 320: stages 3 and 4 padded (20 -> 24,
# 10 -> 16); 320x384: padded and non-square.
@pytest.mark.parametrize('size', [(256, 256), (320, 320), (320, 384)],
                         ids=['256', '320-padded', '320x384-padded'])
def test_identity_with_torchvision(tmp_path, size):
    ref = torchvision_model(window_size=8)
    path = tmp_path / 'swin_v2_t-b137f0e2.pth'  # the released file's name
    torch.save(ref.state_dict(), path)  # as torchvision's weights are: a plain state dict
    raw = read_checkpoint(str(path))
    assert detect_format(raw) == 'torchvision' and raw.weights.name == 'swin_v2_t'
    x = torch.randn(2, 3, *size)
    model = build(path, window_size=8)
    with torch.no_grad():
        assert_close(model(x), torchvision_stage_outputs(ref, x), 'torchvision')


def test_torchvision_differs_where_a_map_is_smaller_than_the_window(tmp_path):
    """The documented difference: at 224 (window 8) the last map is 7x7; torchvision pads it
    to one 8x8 window and attends to the padding, the official code (and ours) clips the
    window to 7. The stages before agree."""
    ref = torchvision_model(window_size=8)
    torch.save(ref.state_dict(), tmp_path / 'tv.pth')
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        ours, refs = build(tmp_path / 'tv.pth')(x), torchvision_stage_outputs(ref, x)
    for i in range(3):  # 56, 28, 14: larger than the window, padded where needed
        b = torch.nn.functional.layer_norm(refs[i].permute(0, 2, 3, 1), (refs[i].shape[1],))
        assert (ours[i] - b.permute(0, 3, 1, 2)).abs().max().item() < TOL
    assert (ours[3] - refs[3]).abs().max().item() > 1e-2


def test_torchvision_names_resolve_from_the_torch_hub_cache(tmp_path, monkeypatch):
    """torchvision://swin_v2_t (the scheme mmengine knows; a bare name means .default) and
    swin_v2_t read the file torchvision itself would have cached, without the network."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    cache = tmp_path / 'torch' / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    ref = torchvision_model(window_size=8)
    torch.save(ref.state_dict(), cache / 'swin_v2_t-b137f0e2.pth')
    x = torch.randn(1, 3, 256, 256)
    expected = torchvision_stage_outputs(ref, x)
    for name in ('torchvision://swin_v2_t', 'torchvision://swin_v2_t.imagenet1k_v1',
                 'swin_v2_t'):
        with torch.no_grad():
            assert_close(build(name)(x), expected, 'torchvision')
    with pytest.raises(CheckpointError, match=r"no weights named 'swin_v2_x'"):
        build('torchvision://swin_v2_x')


def test_official_and_mmpretrain_names_resolve_from_the_torch_hub_cache(tmp_path, monkeypatch):
    """The official file name (with or without .pth), its GitHub URL, and the mmpretrain name
    read the files torch.hub / mmengine would have cached under their URLs' file names."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    cache = tmp_path / 'torch' / 'hub' / 'checkpoints'
    ref = timm_model((256, 256), 8)
    files = save_all_formats(ref, str(tmp_path))
    cache.mkdir(parents=True)
    os.replace(files['official'], cache / 'swinv2_tiny_patch4_window8_256.pth')
    os.replace(files['mmpretrain'],
               cache / 'swinv2-tiny-w8_3rdparty_in1k-256px_20220803-e318968f.pth')
    x = torch.randn(1, 3, 256, 256)
    expected = timm_stage_outputs(ref, x)
    for name in ('swinv2_tiny_patch4_window8_256', 'swinv2_tiny_patch4_window8_256.pth',
                 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/'
                 'swinv2_tiny_patch4_window8_256.pth', 'swinv2-tiny-w8_3rdparty_in1k-256px'):
        with torch.no_grad():
            assert_close(build(name)(x), expected, 'timm (by name)')


# --- the SimMIM releases ----------------------------------------------------------------
def _fake_yacs_config():
    """An object that pickles as the official scripts' yacs CfgNode does (the class is only
    importable while the file is written, as on the machine that trained it)."""
    yacs, config = types.ModuleType('yacs'), types.ModuleType('yacs.config')

    class CfgNode(dict):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.__dict__['__immutable__'] = False
            self.__dict__['__deprecated_keys__'] = set()
    CfgNode.__module__, CfgNode.__qualname__ = 'yacs.config', 'CfgNode'
    config.CfgNode, yacs.config = CfgNode, config
    return {'yacs': yacs, 'yacs.config': config}, CfgNode


@pytest.fixture(scope='module')
def simmim(tmp_path_factory):
    folder = tmp_path_factory.mktemp('simmim')
    torch.manual_seed(0)
    ref = timm_model((256, 256), 8)
    official = timm_to_official(ref)
    modules, CfgNode = _fake_yacs_config()
    sys.modules.update(modules)
    try:
        cfg = CfgNode(MODEL=CfgNode(TYPE='swinv2', SWINV2=CfgNode(EMBED_DIM=32)), TAG='x')
        train = {'model': official_to_simmim(official, 32), 'optimizer': {'state': {}},
                 'lr_scheduler': {}, 'max_accuracy': 0.0, 'epoch': 99, 'config': cfg}
        torch.save(train, folder / 'ckpt_epoch_99.pth')
    finally:
        for name in modules:
            sys.modules.pop(name)
    released = {'model': official_to_simmim(official, 32, training_checkpoint=False)}
    torch.save(released, folder / 'swinv2_small_1k_500k.pth')
    return ref, folder


def test_simmim_training_checkpoint_loads_with_mask_token_and_decoder_reported(simmim):
    """main_simmim_pt.py's checkpoint: weights under 'model' (with its yacs config beside
    them, read as inert data), encoder./decoder., rpe_mlp. The mask token and decoder are
    not the backbone's: ignored, and the one-line summary says so."""
    ref, folder = simmim
    path = folder / 'ckpt_epoch_99.pth'
    assert detect_format(read_checkpoint(str(path))) == 'simmim'
    model = SwinTransformerV2(arch=SMALL, window_size=8, drop_path_rate=0.0)
    conv = load_pretrained(model, str(path))
    assert '\n' not in conv.summary
    assert '2 SimMIM decoder' in conv.summary and 'the mask token (this backbone has none' \
        in conv.summary, conv.summary
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        assert_close(model.eval()(x), timm_stage_outputs(ref, x), 'timm (SimMIM files)')


def test_simmim_release_loads_and_its_mask_token_goes_to_the_backbones(simmim):
    """The released encoder file (no prefix, rpe_mlp, mask_token) by its file name; a
    backbone built with a mask token gets the file's."""
    ref, folder = simmim
    path = folder / 'swinv2_small_1k_500k.pth'
    raw = read_checkpoint(str(path))
    assert raw.weights.name == 'swinv2_small_1k_500k' and detect_format(raw) == 'simmim'
    model = build(path, use_mask_token=True)
    expected = torch.load(path, weights_only=True)['model']['mask_token']
    assert torch.equal(model.mask_token.data, expected)
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        assert_close(model(x), timm_stage_outputs(ref, x), 'timm (SimMIM files)')
    # A supervised checkpoint into a backbone with a mask token: it stays at its init.
    files = save_all_formats(ref, str(folder))
    conv = load_pretrained(SwinTransformerV2(arch=SMALL, window_size=8, use_mask_token=True),
                           files['official'])
    assert 'mask_token' in conv.summary.split('left at init')[1]


def test_transformers_masked_image_modeling_checkpoint(tmp_path):
    """Swinv2ForMaskedImageModeling (swinv2.embeddings.mask_token, decoder.0.*): the
    backbone equals transformers' own encoder, the mask token maps to ours."""
    from transformers import Swinv2Config, Swinv2ForMaskedImageModeling
    config = Swinv2Config(image_size=256, embed_dim=32, depths=[2, 2, 2, 2],
                          num_heads=[1, 2, 4, 8], window_size=8, encoder_stride=32)
    ref = perturb_(Swinv2ForMaskedImageModeling(config))
    ref.save_pretrained(tmp_path)
    model = build(tmp_path, use_mask_token=True)
    assert torch.equal(model.mask_token.data, ref.swinv2.embeddings.mask_token.data)
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        last = ref.swinv2(x).last_hidden_state.reshape(1, 8, 8, -1).permute(0, 3, 1, 2)
        err = (model(x)[-1] - last).abs().max().item()
    MAX_ERRORS['transformers (MIM)'] = err
    assert err < TOL


def test_mmpretrain_style_mask_token(tmp_path):
    ref = timm_model((256, 256), 8)
    state = official_to_mmpretrain(timm_to_official(ref))
    state['backbone.mask_token'] = torch.full((1, 1, 32), 0.5)
    torch.save({'state_dict': state}, tmp_path / 'mm.pth')
    assert torch.equal(build(tmp_path / 'mm.pth', use_mask_token=True).mask_token.data,
                       state['backbone.mask_token'])


# --- arch 'huge' and 'giant' ------------------------------------------------------------
def _param_count(arch: str) -> int:
    with torch.device('meta'):
        model = SwinTransformerV2(arch=arch, out_indices=(3,))
    return sum(p.numel() for p in model.parameters())


def test_huge_and_giant_have_the_released_sizes():
    """MODELHUB.md gives the backbones' sizes: SwinV2-H 655M, SwinV2-giant 1.06B (and L
    195M, B 87M, S 49M, as a check of the counting)."""
    for arch, published in (('small', 49e6), ('base', 87e6), ('large', 195e6),
                            ('huge', 655e6), ('giant', 1.06e9)):
        assert abs(_param_count(arch) - published) / published < 0.01, arch


@pytest.mark.parametrize('arch', ['huge', 'giant'])
def test_huge_and_giant_have_the_official_layout(arch):
    """Every tensor of the official layout at these sizes (built by timm, whose model is
    the official one, on the meta device) has its place and shape in ours, and nothing more
    (the official and ours differ only in the output norms ours adds)."""
    from timm.models.swin_transformer_v2 import SwinTransformerV2 as Timm
    spec = SwinTransformerV2.arch_zoo[arch]
    with torch.device('meta'):
        ref = Timm(img_size=192, window_size=12, embed_dim=spec['embed_dims'],
                   depths=spec['depths'], num_heads=spec['num_heads'], num_classes=1000)
        ours = SwinTransformerV2(arch=arch, window_size=12, out_indices=(3,))
    from swinv2_mm.checkpoint.io import RawCheckpoint
    conv = convert(RawCheckpoint(timm_to_official(ref), 'official'))
    assert conv.format == 'official' and not conv.unknown
    own = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in conv.state_dict.items()} == own


@pytest.mark.parametrize('arch', ['huge', 'giant'])
def test_huge_and_giant_heads_against_timm(tmp_path, arch):
    """Their head counts (11 and 14 in the first stage) at a small width (8 channels per
    head), against timm on the same weights, 192 px with window 12 (SimMIM's pre-training
    setting: the last stage's 6x6 map is one clipped window)."""
    heads = SwinTransformerV2.arch_zoo[arch]['num_heads']
    small = dict(embed_dims=heads[0] * 8, depths=(2, 2, 2, 2), num_heads=heads)
    ref = timm_model((192, 192), 12, arch=small)
    paths = save_all_formats(ref, str(tmp_path))
    x = torch.randn(1, 3, 192, 192)
    with torch.no_grad():
        assert_close(build(paths['official'], 12, (12, 12, 12, 6), arch=small)(x),
                     timm_stage_outputs(ref, x),
                     f'timm ({arch} heads)')


# --- weights by name --------------------------------------------------------------------
def test_every_name_form_selects_its_weights():
    cases = {
        'swinv2_base_patch4_window12to16_192to256_22kto1k_ft': 'official',
        'swinv2_base_patch4_window12to16_192to256_22kto1k_ft.pth': 'official',
        'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/'
        'swinv2_base_patch4_window12to16_192to256_22kto1k_ft.pth': 'official',
        'microsoft/swinv2-base-patch4-window12to16-192to256-22kto1k-ft': 'transformers',
        'hf-hub:microsoft/swinv2-base-patch4-window12to16-192to256-22kto1k-ft': 'transformers',
        'swinv2_base_window12to16_192to256.ms_in22k_ft_in1k': 'timm',
        'swinv2_base_window12to16_192to256': 'timm',
        'timm/swinv2_base_window12to16_192to256.ms_in22k_ft_in1k': 'timm',
        'swinv2_base_window12to16_192to256_22kft1k': 'timm',
        'swinv2-base-w16_in21k-pre_3rdparty_in1k-256px': 'mmpretrain',
    }
    for name, layout in cases.items():
        weights, copy = lookup(name)
        assert (weights.name, copy.layout) == (
            'swinv2_base_patch4_window12to16_192to256_22kto1k_ft', layout), name
        assert (weights.arch, weights.window_size, weights.pretrained_window_sizes,
                weights.img_size, weights.num_classes) == ('base', 16, (12, 12, 12, 6), 256, 1000)
    assert lookup('torchvision://swin_v2_b.default')[0].name == 'swin_v2_b'
    assert lookup('finetune_swinv2_giant_22k_500k')[0].top1 == 86.53
    assert lookup('swinv2_tiny_patch4_window16_256')[0].pretrained_window_sizes == (16, 16, 16, 8)
    assert lookup('swinv2_large_patch4_window12_192_22k')[0].num_classes == 21841
    assert lookup('no_such_checkpoint') is None


def test_the_table_has_every_public_checkpoint():
    by_source = {}
    for w in ZOO:
        by_source[w.source] = by_source.get(w.source, 0) + 1
    # 12 official, 3 torchvision, 63 SimMIM data-scaling models x (pre-trained, fine-tuned)
    assert by_source == {'official': 12, 'torchvision': 3, 'simmim': 126}
    assert sum(1 for w in ZOO for c in w.copies if c.layout == 'mmpretrain') == 12
    names = [n for w in ZOO for c in w.copies for n in c.names]
    assert len(names) == len(set(names)), 'a name must select one file'


def test_names_agree_with_the_libraries_own_registries():
    """The timm names (and old aliases) are timm's, the torchvision files torchvision's."""
    import timm
    from timm.models import _registry
    from torchvision.models import get_model_weights
    timm_names = set(timm.list_pretrained('swinv2_*'))
    deprecated = _registry._deprecated_models.get('swin_transformer_v2', {})
    for w in ZOO:
        for c in w.copies:
            if c.layout == 'timm':
                assert c.names[0] in timm_names, c.names[0]
                for alias in c.names[5:]:
                    assert deprecated.get(alias) == c.names[0], alias
            if c.layout == 'torchvision':
                url = get_model_weights(w.name).DEFAULT.url
                assert c.url == url
    assert {n for n in timm_names if not n.startswith('swinv2_cr')} == {
        c.names[0] for w in ZOO for c in w.copies if c.layout == 'timm'}


def test_docs_table_is_the_generated_one():
    with open(os.path.join(ROOT, 'docs', 'model_zoo.md'), encoding='utf-8') as f:
        assert markdown_table() in f.read(), 'regenerate: .venv/bin/python -m swinv2_mm.checkpoint.zoo'


def _hub_cache(root, repo_id, files, monkeypatch, offline=True):
    """The Hugging Face cache layout (models--org--name/{refs/main, snapshots/<commit>/...})
    as huggingface_hub writes it, pointed at by the Hub's constants."""
    import huggingface_hub.constants as constants
    commit = 'a' * 40
    repo = root / ('models--' + repo_id.replace('/', '--'))
    (repo / 'refs').mkdir(parents=True, exist_ok=True)
    (repo / 'refs' / 'main').write_text(commit)
    snapshot = repo / 'snapshots' / commit
    for name, write in files.items():
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        write(snapshot / name)
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(root))
    monkeypatch.setattr(constants, 'HF_HUB_OFFLINE', offline)
    return snapshot


def test_timm_hub_name_from_the_cache_and_its_windows_checked(tmp_path, monkeypatch):
    """A timm name resolves to timm's Hub repo in the local cache (HF_HUB_OFFLINE: no
    network). timm files record no windows, so the name's table does: configuring other
    position-bias windows is a one-line error giving the right ones."""
    ref = timm_model((256, 256), 16, (12, 12, 12, 6))
    state = {k: v.contiguous() for k, v in ref.state_dict().items()}
    repo = 'timm/swinv2_base_window12to16_192to256.ms_in22k_ft_in1k'
    _hub_cache(tmp_path, repo, {'model.safetensors': lambda p: save_file(state, p)},
               monkeypatch)
    x = torch.randn(1, 3, 256, 256)
    expected = timm_stage_outputs(ref, x)
    for name in ('swinv2_base_window12to16_192to256.ms_in22k_ft_in1k', repo,
                 'hf-hub:' + repo, 'swinv2_base_window12to16_192to256_22kft1k'):
        with torch.no_grad():
            assert_close(build(name, 16, (12, 12, 12, 6))(x), expected, 'timm (by name)')
    with pytest.raises(CheckpointError) as e:
        build('swinv2_base_window12to16_192to256.ms_in22k_ft_in1k', window_size=16)
    msg = str(e.value)
    assert '\n' not in msg and 'pretrained_window_sizes=[12, 12, 12, 6]' in msg


def test_transformers_hub_id_from_the_cache(tmp_path, monkeypatch):
    """microsoft/... from the cache: pytorch_model.bin with its config.json beside it."""
    from transformers import Swinv2Config, Swinv2ForImageClassification
    config = Swinv2Config(image_size=256, embed_dim=32, depths=[2, 2, 2, 2],
                          num_heads=[1, 2, 4, 8], window_size=8, num_labels=7)
    ref = perturb_(Swinv2ForImageClassification(config))
    repo = 'microsoft/swinv2-tiny-patch4-window8-256'
    _hub_cache(tmp_path, repo, {'pytorch_model.bin': lambda p: torch.save(ref.state_dict(), p),
                                'config.json': lambda p: config.to_json_file(p)}, monkeypatch)
    model = build(repo)
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        last = ref.swinv2(x).last_hidden_state.reshape(1, 8, 8, -1).permute(0, 3, 1, 2)
        err = (model(x)[-1] - last).abs().max().item()
    MAX_ERRORS['transformers (by Hub id)'] = err
    assert err < TOL
    with pytest.raises(CheckpointError, match=r'pretrained_window_sizes=\[8, 8, 8, 8\]'):
        build(repo, window_size=16)  # config.json: trained at window 8


def test_simmim_name_from_the_cache(simmim, tmp_path, monkeypatch):
    ref, folder = simmim
    data = (folder / 'swinv2_small_1k_500k.pth').read_bytes()
    _hub_cache(tmp_path, 'zdaxie/SimMIM', {
        'simmim_swinv2_pretrain_models/swinv2_small_1k_500k.pth': lambda p: p.write_bytes(data)},
        monkeypatch)
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        assert_close(build('swinv2_small_1k_500k')(x), timm_stage_outputs(ref, x),
                     'timm (SimMIM files)')


def test_names_not_in_the_caches_offline_are_one_line_errors(tmp_path, monkeypatch):
    _hub_cache(tmp_path, 'timm/unused', {}, monkeypatch)
    with pytest.raises(CheckpointError) as e:
        build('microsoft/swinv2-tiny-patch4-window8-256')
    assert 'HF_HUB_OFFLINE' in str(e.value) and '\n' not in str(e.value)
    with pytest.raises(CheckpointError, match='hf-hub:someone/my-swinv2'):
        build('someone/my-swinv2')
    with pytest.raises(CheckpointError, match='docs/model_zoo.md'):
        build('swinv2_tiny_window7_224')


def test_convert_tool_keeps_the_mask_token_and_takes_names(simmim, tmp_path, monkeypatch):
    """tools/convert_checkpoint.py's conversion: a SimMIM run's checkpoint keeps its mask token
    (verified in the written file); a name resolves through the caches as for init_cfg."""
    from safetensors import safe_open
    from swinv2_mm.checkpoint.export import convert_file
    ref, folder = simmim
    out = tmp_path / 'simmim_mm.safetensors'
    report = convert_file(str(folder / 'ckpt_epoch_99.pth'), str(out))
    assert any('simmim format' in line for line in report)
    released = torch.load(folder / 'swinv2_small_1k_500k.pth', weights_only=True)['model']
    with safe_open(str(out), framework='pt') as f:
        assert torch.equal(f.get_tensor('mask_token'), released['mask_token'])
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    cache = tmp_path / 'torch' / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    torch.save(torchvision_model(window_size=8).state_dict(), cache / 'swin_v2_t-b137f0e2.pth')
    report = convert_file('torchvision://swin_v2_t', str(tmp_path / 'tv_mm.safetensors'))
    assert any('torchvision format' in line for line in report)
    assert any('[8, 8, 8, 8]' in line for line in report)


def test_compare_official_tool_needs_the_official_file(capsys, monkeypatch, tmp_path):
    """tools/compare_official.py (run by hand beside a checkout of the official code; the
    record is docs/records/compare_official_huge_giant.json): a missing file is one line."""
    import runpy
    main = runpy.run_path(os.path.join(ROOT, 'tools', 'compare_official.py'),
                          run_name='tool')['main']
    monkeypatch.setattr(sys, 'argv', ['compare_official.py', '--official',
                                      str(tmp_path / 'swin_transformer_v2.py')])
    assert main() == 1
    err = capsys.readouterr().err
    assert err.startswith('error: --official') and len(err.strip().splitlines()) == 1
