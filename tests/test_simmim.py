"""SimMIM (swinv2_mm/selfsup): the backbone's mask token, identity with transformers'
Swinv2ForMaskedImageModeling and with the official loss (NORM_TARGET), the official mask
generator, the unlabeled-image data, checkpoints in and out (official / transformers /
Runner files, a detector's backbone), the configs, the tools, and fp16 / bf16 steps."""
import math
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DATASETS, MODELS

from swinv2_mm import SwinTransformerV2
from swinv2_mm.selfsup import (ImageDataError, SimMIM, SimMIMMaskGenerator,
                               SimMIMRandomResizedCrop, SimMIMReconstructionLoss)

from reference_models import perturb_

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(ROOT, 'configs', 'simmim')
DEMO_CONFIG = osp.join(CONFIGS, 'simmim_swinv2_demo_synthetic.py')
TINY = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8])


def _simmim(window=6, pretrained=0, arch=TINY, **kwargs) -> SimMIM:
    backbone = dict(type='SwinTransformerV2', arch=dict(arch), window_size=window,
                    pretrained_window_sizes=pretrained, drop_path_rate=0.0)
    backbone.update(kwargs.pop('backbone', {}))
    model = SimMIM(backbone=backbone, **kwargs)
    model.init_weights()
    return model


def _masks(batch, size, seed=0, generator=None):
    gen = generator or SimMIMMaskGenerator(input_size=size, mask_patch_size=32,
                                           model_patch_size=4, mask_ratio=0.6)
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.stack([gen.generate(rng) for _ in range(batch)]))


# -- the backbone's mask token ----------------------------------------------------------------
def test_mask_token_only_when_asked():
    plain = SwinTransformerV2(arch=TINY, window_size=4)
    assert plain.mask_token is None
    assert not any('mask_token' in k for k in plain.state_dict())
    masked = SwinTransformerV2(arch=TINY, window_size=4, use_mask_token=True)
    assert masked.mask_token.shape == (1, 1, 16)
    assert 'mask_token' in dict(masked.named_parameters())
    assert 0 < masked.mask_token.abs().max() < 0.1  # trunc_normal(std=0.02), not zeros
    with pytest.raises(TypeError, match='use_mask_token'):
        SwinTransformerV2(arch=TINY, use_mask_token='yes')


def test_mask_replaces_patch_embeddings_after_the_norm():
    torch.manual_seed(0)
    model = SwinTransformerV2(arch=TINY, window_size=4, use_mask_token=True,
                              drop_path_rate=0.0).eval()
    seen = {}
    model.drop_after_pos.register_forward_hook(lambda m, i, o: seen.update(x=i[0].clone()))
    x = torch.randn(2, 3, 64, 48)
    mask = torch.rand(2, 16, 12) > 0.5
    with torch.no_grad():
        out = model(x, mask)
        embedded = model.patch_embed(x)
    expected = torch.where(mask[..., None], model.mask_token.reshape(1, 1, 1, -1), embedded)
    torch.testing.assert_close(seen['x'], expected)
    with torch.no_grad():  # every form of the mask gives the same result
        for form in (mask.long(), mask.float(), mask.flatten(1)):
            torch.testing.assert_close(model(x, form)[-1], out[-1])
        torch.testing.assert_close(model(x, torch.zeros_like(mask))[-1], model(x)[-1])
    with pytest.raises(ValueError, match=r'\(2, 16, 12\)'):
        model(x, mask.transpose(1, 2))
    with pytest.raises(ValueError, match='use_mask_token=True'):
        SwinTransformerV2(arch=TINY, window_size=4)(x, mask)


def test_mask_token_gets_gradient_and_freezes_with_patch_embed():
    model = SwinTransformerV2(arch=TINY, window_size=4, use_mask_token=True)
    out = model(torch.randn(1, 3, 32, 32), torch.rand(1, 8, 8) > 0.5)[-1]
    (out * torch.randn_like(out)).sum().backward()  # a plain sum of a LayerNorm output is 0
    assert model.mask_token.grad is not None and model.mask_token.grad.abs().sum() > 0
    frozen = SwinTransformerV2(arch=TINY, window_size=4, use_mask_token=True, frozen_stages=0)
    assert not frozen.mask_token.requires_grad


# -- identity: transformers' Swinv2ForMaskedImageModeling, same weights and mask ------------
def _hf_mim(image_size=96, window=6):
    transformers = pytest.importorskip('transformers')
    config = transformers.Swinv2Config(
        image_size=image_size, patch_size=4, embed_dim=TINY['embed_dims'],
        depths=TINY['depths'], num_heads=TINY['num_heads'], window_size=window,
        drop_path_rate=0.0, encoder_stride=32)
    torch.manual_seed(0)
    return perturb_(transformers.Swinv2ForMaskedImageModeling(config), std=0.05)


@pytest.mark.parametrize('layout', ['folder', 'state_dict'])
def test_identity_with_transformers_mim(layout, tmp_path):
    """Loss, reconstruction and gradients equal transformers' on the same weights and mask
    (float32), the weights loaded from its own files through init_cfg."""
    hf = _hf_mim()
    if layout == 'folder':  # model.safetensors + config.json, as save_pretrained writes
        hf.save_pretrained(str(tmp_path))
        source = str(tmp_path)
    else:  # a bare state dict (no config.json: the windows are taken as configured)
        source = str(tmp_path / 'mim.pth')
        torch.save(hf.state_dict(), source)
    # 96 px: stage maps 24, 12, 6, 3; the last stage ran one 3x3 window (clipped)
    ours = _simmim(window=6, pretrained=[6, 6, 6, 3],
                   init_cfg=dict(type='Pretrained', checkpoint=source)).eval()
    torch.testing.assert_close(ours.backbone.mask_token,
                               hf.swinv2.embeddings.mask_token, rtol=0, atol=0)
    x = torch.randn(2, 3, 96, 96)
    mask = _masks(2, 96)
    out = hf(pixel_values=x, bool_masked_pos=mask.flatten(1).bool())
    loss, rec = ours.loss_and_reconstruction(x, mask)
    assert abs(loss.item() - out.loss.item()) <= 1e-5
    assert (rec - out.reconstruction).abs().max() <= 1e-5
    out.loss.backward()
    loss.backward()
    pairs = [(ours.backbone.mask_token, hf.swinv2.embeddings.mask_token),
             (ours.decoder[0].weight, hf.decoder[0].weight),
             (ours.backbone.patch_embed.projection.weight,
              hf.swinv2.embeddings.patch_embeddings.projection.weight)]
    for a, b in pairs:
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6)
    with torch.no_grad():  # inference without autograd takes the chunked MLP path
        torch.testing.assert_close(ours.reconstruct(x, mask), out.reconstruction,
                                   rtol=0, atol=1e-5)


# -- identity: the official loss with NORM_TARGET, transcribed ------------------------------
def _official_norm_targets(targets, patch_size):
    """microsoft/Swin-Transformer models/simmim.py norm_targets, transcribed."""
    assert patch_size % 2 == 1
    targets_ = targets
    targets_count = torch.ones_like(targets)
    targets_square = targets**2.0
    targets_mean = F.avg_pool2d(targets, kernel_size=patch_size, stride=1,
                                padding=patch_size // 2, count_include_pad=False)
    targets_square_mean = F.avg_pool2d(targets_square, kernel_size=patch_size, stride=1,
                                       padding=patch_size // 2, count_include_pad=False)
    targets_count = F.avg_pool2d(targets_count, kernel_size=patch_size, stride=1,
                                 padding=patch_size // 2, count_include_pad=True) * (patch_size**2)
    targets_var = (targets_square_mean - targets_mean**2.0) * (targets_count / (targets_count - 1))
    targets_var = torch.clamp(targets_var, min=0.0)
    targets_ = (targets_ - targets_mean) / (targets_var + 1.0e-6)**0.5
    return targets_


def _official_loss(x, x_rec, mask, patch_size=4, norm_target=47, in_chans=3):
    """SimMIM.forward's loss (models/simmim.py), transcribed."""
    mask = mask.repeat_interleave(patch_size, 1).repeat_interleave(patch_size, 2).unsqueeze(1)
    if norm_target:
        x = _official_norm_targets(x, norm_target)
    loss_recon = F.l1_loss(x, x_rec, reduction='none')
    return (loss_recon * mask).sum() / (mask.sum() + 1e-5) / in_chans


def test_identity_with_official_norm_target_loss():
    model = _simmim(window=6, loss=dict(norm_target=True, norm_target_window=47)).eval()
    perturb_(model, std=0.02)
    x = torch.randn(2, 3, 96, 96) * 1.5 + 0.3
    mask = _masks(2, 96, seed=1)
    with torch.no_grad():
        loss, rec = model.loss_and_reconstruction(x, mask)
        official = _official_loss(x, rec, mask, norm_target=47)
        plain = SimMIMReconstructionLoss()(rec, x, model.pixel_mask(mask))
    assert abs(float(loss) - float(official)) <= 1e-5
    assert abs(float(plain) - float(_official_loss(x, rec, mask, norm_target=0))) <= 1e-5
    assert abs(float(loss) - float(plain)) > 1e-2  # the normalised target is another target
    # The same formula: in float64 (no rounding to speak of) equal to the transcription,
    # the 47x47 window at a 192 px image's border, a flat (saturated) region, another window.
    # In float32 the official avg_pool2d's rounding, / sqrt(1e-6) in flat regions, is
    # ~1e-3 there; ours sums an integral image in float64.
    from swinv2_mm.selfsup import normalise_target
    for size, window in ((192, 47), (64, 7)):
        img = torch.randn(1, 3, size, size, dtype=torch.float64) * 1.2 + 0.3
        img[..., :30, :30] = 2.2489  # (255 - mean) / std of ImageNet's red channel
        torch.testing.assert_close(normalise_target(img, window),
                                   _official_norm_targets(img, window), rtol=0, atol=1e-9)


# -- the official mask generator -------------------------------------------------------------
class _OfficialMaskGenerator:
    """data/data_simmim_pt.py MaskGenerator, transcribed."""

    def __init__(self, input_size=192, mask_patch_size=32, model_patch_size=4, mask_ratio=0.6):
        self.rand_size = input_size // mask_patch_size
        self.scale = mask_patch_size // model_patch_size
        self.token_count = self.rand_size**2
        self.mask_count = int(np.ceil(self.token_count * mask_ratio))

    def __call__(self):
        mask_idx = np.random.permutation(self.token_count)[:self.mask_count]
        mask = np.zeros(self.token_count, dtype=int)
        mask[mask_idx] = 1
        mask = mask.reshape((self.rand_size, self.rand_size))
        return mask.repeat(self.scale, axis=0).repeat(self.scale, axis=1)


def test_mask_generator_official_counts_shapes_and_draws():
    ours = SimMIMMaskGenerator()
    mask = ours(dict(img=np.zeros((192, 192, 3), np.uint8)))['mask']
    assert mask.shape == (48, 48) and set(np.unique(mask)) == {0, 1}
    units = mask.reshape(6, 8, 6, 8)
    assert (units == units[:, :1, :, :1]).all()  # constant over each 32 px unit
    assert units[:, 0, :, 0].sum() == 22 == math.ceil(36 * 0.6)
    for args in ((192, 32, 4, 0.6), (160, 32, 4, 0.6), (224, 32, 4, 0.75)):
        np.random.seed(5)
        a = [SimMIMMaskGenerator(*args).generate() for _ in range(3)]
        np.random.seed(5)
        b = [_OfficialMaskGenerator(*args)() for _ in range(3)]
        assert all((x == y).all() for x, y in zip(a, b)), args
    with pytest.raises(ValueError, match='multiple of'):
        SimMIMMaskGenerator(input_size=200)
    with pytest.raises(ValueError, match='input_size=192'):
        ours(dict(img=np.zeros((160, 160, 3), np.uint8)))


# -- unlabeled images ------------------------------------------------------------------------
def _write_images(folder):
    from PIL import Image
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(folder, 'class_a', 'deeper'), exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (300, 200, 3), np.uint8)).save(
        osp.join(folder, 'a.png'))
    Image.fromarray(rng.integers(0, 255, (150, 400), np.uint8), 'L').save(
        osp.join(folder, 'class_a', 'b.JPG'))
    Image.fromarray(rng.integers(0, 255, (256, 256, 4), np.uint8), 'RGBA').save(
        osp.join(folder, 'class_a', 'deeper', 'c.webp'))
    Image.fromarray(rng.integers(0, 255, (40, 900, 3), np.uint8)).save(
        osp.join(folder, 'd.bmp'))
    with open(osp.join(folder, 'notes.txt'), 'w') as f:
        f.write('not an image')


PIPELINE = [dict(type='LoadRGBImage'), dict(type='SimMIMRandomResizedCrop', size=64),
            dict(type='SimMIMRandomFlip', prob=0.5),
            dict(type='SimMIMMaskGenerator', input_size=64, mask_patch_size=32),
            dict(type='PackSimMIMInputs')]


def test_unlabeled_folder_any_sizes_and_formats(tmp_path):
    _write_images(str(tmp_path))
    dataset = DATASETS.build(dict(type='UnlabeledImageFolder', data_root=str(tmp_path),
                                  pipeline=PIPELINE))
    assert [osp.relpath(dataset.get_data_info(i)['img_path'], str(tmp_path))
            for i in range(len(dataset))] == ['a.png', 'd.bmp', 'class_a/b.JPG',
                                               'class_a/deeper/c.webp']
    for i in range(len(dataset)):
        item = dataset[i]
        assert item['inputs'].shape == (3, 64, 64) and item['inputs'].dtype == torch.uint8
        assert item['data_samples'].mask.shape == (16, 16)
        assert int(item["data_samples"].mask.sum()) == 3 * 8 * 8  # ceil(4 * 0.6) = 3 units
    np.random.seed(1)
    a = dataset[0]
    np.random.seed(1)
    b = dataset[0]
    assert torch.equal(a['inputs'], b['inputs'])


def test_unlabeled_folder_errors(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ImageDataError, match='no images'):
        DATASETS.build(dict(type='UnlabeledImageFolder', data_root=str(empty)))
    with pytest.raises(ImageDataError, match='not a folder'):
        DATASETS.build(dict(type='UnlabeledImageFolder', data_root=str(tmp_path / 'none')))
    bad = tmp_path / 'bad'
    bad.mkdir()
    (bad / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n not really')
    dataset = DATASETS.build(dict(type='UnlabeledImageFolder', data_root=str(bad),
                                  pipeline=PIPELINE))
    with pytest.raises(ImageDataError, match='broken.png: cannot be read as an image'):
        dataset[0]


def test_random_resized_crop_follows_scale_and_ratio():
    crop = SimMIMRandomResizedCrop(size=32, scale=(0.67, 1.0), ratio=(3 / 4, 4 / 3))
    np.random.seed(0)
    for _ in range(300):
        top, left, h, w = crop.crop_box(300, 200)
        assert 0 <= top <= 300 - h and 0 <= left <= 200 - w
        assert 0.67 * 0.97 <= h * w / 60000 <= 1.0
        assert 3 / 4 * 0.97 <= w / h <= 4 / 3 * 1.03
    # no crop of that area fits a 10:1 strip: the centred crop with the widest ratio allowed
    assert crop.crop_box(20, 200) == (0, 86, 20, 27)
    out = crop(dict(img=np.zeros((20, 200, 3), np.uint8)))
    assert out['img'].shape == (32, 32, 3)
    with pytest.raises(ValueError, match='scale'):
        SimMIMRandomResizedCrop(scale=(0.0, 1.0))


def test_reconstruction_picture_and_held_out_losses(tmp_path):
    from PIL import Image
    from swinv2_mm.selfsup.visualize import draw_reconstructions, held_out_loss, image_paths
    _write_images(str(tmp_path / 'images'))
    paths = image_paths(str(tmp_path / 'images'), limit=3)
    model = _simmim(window=4)
    gen = SimMIMMaskGenerator(input_size=64, mask_patch_size=32)
    out = str(tmp_path / 'pictures' / 'rec.png')
    drawn = draw_reconstructions(model, paths, out, 64, gen)
    with Image.open(out) as picture:  # 4 columns of 64 px with 4 px gaps, a 14 px header
        assert picture.size == (4 * 64 + 3 * 4, 14 + 3 * (64 + 4))
    assert os.listdir(str(tmp_path / 'pictures')) == ['rec.png']  # no temporary left
    assert drawn == draw_reconstructions(model, paths, out, 64, gen)  # fixed masks
    loss = held_out_loss(model, paths, 64, gen, batch_size=2)
    assert loss == pytest.approx(drawn['loss'], rel=1e-5)
    # the baseline: every masked pixel the mean of the visible ones, computed here by hand
    from swinv2_mm.selfsup.data import load_for_reconstruction
    from swinv2_mm.selfsup.visualize import fixed_masks
    total = 0.0
    for path, mask in zip(paths, fixed_masks(gen, 3)):
        img = torch.from_numpy(load_for_reconstruction(path, 64)).permute(2, 0, 1).float()
        x = ((img - model.data_preprocessor.mean) / model.data_preprocessor.std)[None]
        hidden = torch.from_numpy(mask).repeat_interleave(4, 0).repeat_interleave(4, 1).bool()
        pred = x[..., ~hidden].mean(-1)[..., None]
        total += float((x[..., hidden] - pred).abs().mean())
    assert held_out_loss(model, paths, 64, gen, baseline=True) == pytest.approx(total / 3,
                                                                                rel=1e-4)


# -- checkpoints in ----------------------------------------------------------------------------
def test_official_simmim_checkpoint_loads_everything(tmp_path):
    """An official pre-training file ({'model': encoder.* with the released rpe_mlp name,
    encoder.mask_token, decoder.0.*}) -> the same network as timm's on these weights."""
    pytest.importorskip('timm')
    from reference_models import timm_model, timm_stage_outputs, timm_to_official
    reference = timm_model((64, 64), 4, arch=dict(embed_dims=16, depths=(1, 1, 2, 1),
                                                  num_heads=(1, 2, 4, 8)))
    state = {'encoder.' + k.replace('.cpb_mlp.', '.rpe_mlp.'): v
             for k, v in timm_to_official(reference).items() if not k.startswith('head.')}
    g = torch.Generator().manual_seed(1)
    state['encoder.mask_token'] = torch.randn(1, 1, 16, generator=g)
    state['decoder.0.weight'] = torch.randn(3072, 128, 1, 1, generator=g)
    state['decoder.0.bias'] = torch.randn(3072, generator=g)
    path = str(tmp_path / 'simmim_pretrain.pth')
    torch.save({'model': state, 'epoch': 799}, path)
    model = _simmim(window=4, pretrained=[4, 4, 4, 2],
                    init_cfg=dict(type='Pretrained', checkpoint=path)).eval()
    assert torch.equal(model.backbone.mask_token, state['encoder.mask_token'])
    assert torch.equal(model.decoder[0].weight, state['decoder.0.weight'])
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ours = model.backbone(x)[0]
    assert (ours - timm_stage_outputs(reference, x)[-1]).abs().max() <= 1e-4


def test_decoder_errors_and_a_file_without_one(tmp_path):
    from swinv2_mm.checkpoint import CheckpointError
    model = _simmim(window=4)
    state = {f'backbone.{k}': v for k, v in model.backbone.state_dict().items()}
    path = str(tmp_path / 'no_decoder.pth')
    torch.save({'state_dict': state}, path)
    loaded = _simmim(window=4, init_cfg=dict(type='Pretrained', checkpoint=path))
    assert torch.equal(loaded.backbone.mask_token, model.backbone.mask_token)  # decoder: init
    state['decoder.0.weight'] = torch.zeros(3072, 64, 1, 1)  # another width
    state['decoder.0.bias'] = torch.zeros(3072)
    torch.save({'state_dict': state}, path)
    with pytest.raises(CheckpointError, match=r'decoder.*\(3072, 64, 1, 1\) vs model '
                                              r'\(3072, 128, 1, 1\)'):
        _simmim(window=4, init_cfg=dict(type='Pretrained', checkpoint=path))


# -- the Runner: pre-train, then files out ------------------------------------------------------
@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    """3 iterations of the demo config through tools/train.py's code path."""
    from swinv2_mm.engine import prepare_train_config, run_train
    images = str(tmp_path_factory.mktemp('images'))
    _write_images(images)
    work_dir = str(tmp_path_factory.mktemp('simmim'))
    cfg = prepare_train_config(DEMO_CONFIG, work_dir=work_dir, cfg_options={
        'train_dataloader.dataset.data_root': images, 'train_dataloader.batch_size': 2,
        'train_cfg.max_iters': 3, 'default_hooks.checkpoint.interval': 3,
        'default_hooks.logger.interval': 1})
    runner = run_train(cfg)
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    return dict(checkpoint=osp.join(work_dir, 'iter_3.pth'), losses=losses,
                state={k: v.clone() for k, v in runner.model.state_dict().items()})


def test_runner_pretrains_and_resumes_whole_model(pretrained):
    assert len(pretrained['losses']) == 3 and np.isfinite(pretrained['losses']).all()
    assert osp.isfile(pretrained['checkpoint'])
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.model.init_cfg = dict(type='Pretrained', checkpoint=pretrained['checkpoint'])
    model = MODELS.build(cfg.model)
    model.init_weights()  # a Runner checkpoint: read with the restricted unpickler
    for key, value in pretrained['state'].items():  # backbone, mask token, decoder
        assert torch.equal(model.state_dict()[key], value), key


def test_pretrained_backbone_feeds_a_detector_backbone(pretrained):
    """init_cfg=dict(type='Pretrained', checkpoint=RUNNER_FILE, prefix='backbone.') on the
    detection demo's backbone: every backbone weight, no mask token."""
    det = Config.fromfile(osp.join(ROOT, 'configs', 'demo', 'cascade_swinv2_demo_synthetic.py'))
    backbone = dict(det.model.backbone, init_cfg=dict(
        type='Pretrained', checkpoint=pretrained['checkpoint'], prefix='backbone.'))
    model = MODELS.build(backbone)
    model.init_weights()  # a Runner checkpoint: read with the restricted unpickler
    assert model.mask_token is None
    own = model.state_dict()
    loaded = {k[len('backbone.'):]: v for k, v in pretrained['state'].items()
              if k.startswith('backbone.') and k != 'backbone.mask_token'}
    assert loaded and all(torch.equal(own[k], v) for k, v in loaded.items())


def _tool(name):
    import runpy
    return runpy.run_path(osp.join(ROOT, 'tools', f'{name}.py'), run_name='tool')['main']


def test_convert_checkpoint_extracts_the_backbone(pretrained, tmp_path, monkeypatch, capsys):
    dst = str(tmp_path / 'backbone.safetensors')
    monkeypatch.setattr(sys, 'argv', ['convert_checkpoint.py', pretrained['checkpoint'], dst])
    assert _tool('convert_checkpoint')() == 0, capsys.readouterr().err
    from safetensors.torch import load_file
    state = load_file(dst)
    assert torch.equal(state['patch_embed.projection.weight'],
                       pretrained['state']['backbone.patch_embed.projection.weight'])
    assert not any(k.startswith('decoder') for k in state)


# -- configs and tools ---------------------------------------------------------------------------
@pytest.mark.parametrize('name,arch', [('simmim_swinv2_base_w12_192px_800e.py', 'base'),
                                       ('simmim_swinv2_large_w12_192px_800e.py', 'large'),
                                       ('simmim_swinv2_base_w12_192px_100e_continue.py', 'base')])
def test_configs_carry_the_official_recipe(name, arch):
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    assert cfg.default_scope == 'mmengine'
    b = cfg.model.backbone
    assert (b.arch, b.window_size, b.drop_path_rate, b.out_indices) == (arch, 12, 0.1, (3,))
    assert cfg.model.loss.norm_target and cfg.model.loss.norm_target_window == 47
    steps = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    assert steps['SimMIMRandomResizedCrop'].size == 192
    assert tuple(steps['SimMIMRandomResizedCrop'].scale) == (0.67, 1.0)
    m = steps['SimMIMMaskGenerator']
    assert (m.input_size, m.mask_patch_size, m.model_patch_size, m.mask_ratio) == (192, 32, 4, 0.6)
    opt = cfg.optim_wrapper
    assert opt.optimizer.type == 'AdamW' and tuple(opt.optimizer.betas) == (0.9, 0.999)
    assert opt.optimizer.weight_decay == 0.05 and opt.clip_grad.max_norm == 5.0
    # lr 1e-4 per 512 images, scaled with the real batch as the official code does
    assert opt.optimizer.lr / cfg.auto_scale_lr.base_batch_size * 512 == pytest.approx(1e-4)
    assert cfg.auto_scale_lr.enable
    warmup = cfg.param_scheduler[0]
    assert (warmup.type, warmup.end, warmup.start_factor) == ('LinearLR', 10, 5e-7 / 1e-4)
    if '800e' in name:
        assert cfg.train_cfg.max_epochs == 800
        assert cfg.param_scheduler[1].milestones == [700] and cfg.param_scheduler[1].begin == 0
    else:
        assert cfg.train_cfg.max_epochs == 100 and cfg.model.init_cfg.type == 'Pretrained'


def test_no_weight_decay_where_the_official_code_has_none():
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(osp.join(CONFIGS, 'simmim_swinv2_base_w12_192px_800e.py'))
    cfg.model.backbone.arch = dict(TINY)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay = {id(p): g['weight_decay'] for g in wrapper.optimizer.param_groups
             for p in g['params']}
    names = dict(model.named_parameters())
    none = [n for n in names if n.endswith(('bias', 'mask_token', 'logit_scale')) or 'norm' in n
            or 'cpb_mlp' in n]
    assert 'backbone.mask_token' in none and 'decoder.0.bias' in none
    assert all(decay[id(names[n])] == 0.0 for n in none)
    for n in ('decoder.0.weight', 'backbone.stages.0.blocks.0.attn.qkv.weight',
              'backbone.stages.2.blocks.1.mlp.fc1.weight',
              'backbone.patch_embed.projection.weight'):
        assert decay[id(names[n])] == pytest.approx(0.05), n


def test_model_arguments_are_checked():
    with pytest.raises(ValueError, match='out_indices=\\(3,\\)'):
        _simmim(backbone=dict(out_indices=(2, 3)))
    with pytest.raises(ValueError, match='use_mask_token'):
        _simmim(backbone=dict(use_mask_token=False))
    with pytest.raises(ValueError, match='encoder_stride'):
        _simmim(decoder=dict(encoder_stride=16))
    model = _simmim()
    with pytest.raises(ValueError, match='multiples of 32'):
        model.loss_and_reconstruction(torch.randn(1, 3, 80, 96), torch.zeros(1, 20, 24))
    with pytest.raises(ValueError, match='token mask of shape'):
        model.loss_and_reconstruction(torch.randn(1, 3, 96, 96), torch.zeros(1, 12, 12))
    with pytest.raises(ValueError, match='SimMIMMaskGenerator and PackSimMIMInputs'):
        model(torch.randn(1, 3, 96, 96), None, mode='loss')


def test_tools_give_one_line_errors(tmp_path, capsys):
    assert _tool('train')([DEMO_CONFIG, '--work-dir', str(tmp_path), '--cfg-options',
                           f'train_dataloader.dataset.data_root={tmp_path}/missing/']) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert 'dataset not found' in err and 'docs/simmim.md' in err
    assert _tool('test')([DEMO_CONFIG, str(tmp_path / 'x.pth')]) == 1
    assert 'nothing to test' in capsys.readouterr().err
    from swinv2_mm.engine.simmim_demo import main
    with pytest.raises(SystemExit) as exit_:
        main(['--finetune-iters', '0'])
    assert exit_.value.code == 2 and '--finetune-iters must be >= 1' in capsys.readouterr().err


# -- stability: fp16 with loss scaling, bf16, H/G widths ---------------------------------------
def _step_finite(model, dtype, scaler=None, size=32):
    """One SimMIM training step under autocast; False if anything is not finite."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.randn(2, 3, size, size) * 2.0
    gen = SimMIMMaskGenerator(input_size=size, mask_patch_size=16, model_patch_size=4)
    mask = _masks(2, size, generator=gen)
    with torch.autocast('cpu', dtype=dtype):
        loss, rec = model.loss_and_reconstruction(x, mask)
    assert rec.dtype == dtype  # the network did run in low precision
    if scaler is None:
        loss.backward()
    else:
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
    grads_finite = all(torch.isfinite(p.grad).all() for p in model.parameters()
                       if p.grad is not None)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    if scaler is None:
        opt.step()
    else:
        scaler.step(opt)
        scaler.update()
    moved = any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    return bool(torch.isfinite(loss)) and grads_finite and moved and all(
        torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize('dtype,width,heads', [(torch.float16, 352, (11, 22)),
                                               (torch.bfloat16, 512, (16, 32))])
def test_low_precision_step_stays_finite_at_huge_giant_width(dtype, width, heads):
    """SwinV2-H (352) / -G (512) width, two stages, 32 px with window 6 (padded windows: a
    padded token's q and k are exactly zero, and folding the attention scale into q gave
    scale / eps = inf in float16, so 0 * inf = NaN in every gradient)."""
    torch.manual_seed(0)
    model = _simmim(window=6, arch=dict(embed_dims=width, depths=[1, 1], num_heads=list(heads)),
                    backbone=dict(out_indices=(1,)),
                    loss=dict(norm_target=True, norm_target_window=47)).train()
    scaler = torch.amp.GradScaler('cpu', init_scale=2.0**16) if dtype == torch.float16 else None
    assert _step_finite(model, dtype, scaler)
    if scaler is not None:
        assert scaler.get_scale() == 2.0**16  # no overflow found: the step was taken
