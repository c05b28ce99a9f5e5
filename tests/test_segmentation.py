"""ADE20K UperNet + SwinV2 configs, the generated ADE-format data, training, TTA and mIoU.

Everything is the real stack: mmseg's registry, EncoderDecoder/UPerHead/FCNHead, dataset
classes, SegTTAModel and IoUMetric, mmengine's Runner, driven through the functions behind
tools/train.py and tools/test.py.
"""
import glob
import math
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
ADE_CONFIGS = {
    'tiny': 'configs/upernet_swinv2_tiny_ade20k.py',
    'small': 'configs/upernet_swinv2_small_ade20k.py',
    'base': 'configs/upernet_swinv2_base_ade20k.py',
    'large': 'configs/upernet_swinv2_large_ade20k.py',
}
DEMO_CONFIG = 'configs/demo/upernet_swinv2_demo_synthetic.py'
CHECKPOINTS = {
    'tiny': ('swinv2_tiny_patch4_window8_256.pth', [8, 8, 8, 8], 96),
    'small': ('swinv2_small_patch4_window8_256.pth', [8, 8, 8, 8], 96),
    'base': ('swinv2_base_patch4_window8_256.pth', [8, 8, 8, 8], 128),
    'large': ('swinv2_large_patch4_window12to16_192to256_22kto1k_ft.pth', [12, 12, 12, 6], 192),
}
NO_DECAY_PARTS = ('patch_embed.norm', 'downsample.norm', 'norm1', 'norm2', 'logit_scale',
                  'cpb_mlp', 'q_bias', 'v_bias')


def _config(path: str) -> Config:
    return Config.fromfile(osp.join(ROOT, path))


def _build_segmentor(cfg: Config, crop=None):
    """The model as the Runner builds it, without fetching the ImageNet checkpoint."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    model_cfg = cfg.model.copy()
    model_cfg.backbone.init_cfg = None
    if crop is not None:  # the preprocessor pads every batch to this size
        model_cfg.data_preprocessor.size = (crop, crop)
    model = MODELS.build(model_cfg)
    model.init_weights()
    # One process: the Runner turns SyncBN into BN the same way.
    return revert_sync_batchnorm(model)


def _random_batch(batch: int, size: int, num_classes: int):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(batch):
        sample = SegDataSample()
        sample.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size),
                                 pad_shape=(size, size)))
        label = torch.randint(0, num_classes, (1, size, size), generator=g)
        label[:, :4] = 255  # some ignored pixels, as reduce_zero_label makes them
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    images = torch.randint(0, 256, (batch, 3, size, size), generator=g).float()
    return images, samples


@pytest.mark.parametrize('size', list(ADE_CONFIGS))
def test_ade20k_config_builds_and_trains_a_step(size):
    cfg = _config(ADE_CONFIGS[size])
    file, pretrained_windows, dims = CHECKPOINTS[size]
    # The recipe the task asks for.
    assert cfg.custom_imports == dict(imports=['swinv2_mm'], allow_failed_imports=False)
    assert cfg.default_scope == 'mmseg'
    backbone = cfg.model.backbone
    assert backbone.type == 'SwinTransformerV2' and backbone.arch == size
    assert backbone.window_size == 16
    assert list(backbone.pretrained_window_sizes) == pretrained_windows
    assert backbone.drop_path_rate == 0.3
    assert backbone.init_cfg.checkpoint == (
        'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/' + file)
    assert cfg.crop_size == (512, 512) and cfg.model.data_preprocessor.size == (512, 512)
    assert [t for t in cfg.train_pipeline if t.type == 'RandomCrop'][0].crop_size == (512, 512)
    assert cfg.train_dataloader.batch_size == 2  # x 8 GPUs = 16
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.dataset.data_root == 'data/ade/ADEChallengeData2016'
    assert cfg.train_dataloader.dataset.type == 'ADE20KDataset'
    optim = cfg.optim_wrapper.optimizer
    assert (optim.type, optim.lr, optim.weight_decay) == ('AdamW', 4e-5, 0.05)  # SwinV2 paper
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.end, poly.type, poly.begin, poly.end) == (
        'LinearLR', 1500, 'PolyLR', 1500, 160000)
    assert cfg.model.auxiliary_head.in_index == 2
    assert cfg.model.decode_head.num_classes == cfg.model.auxiliary_head.num_classes == 150
    assert cfg.test_evaluator.type == 'IoUMetric'
    assert cfg.tta_model.type == 'SegTTAModel'
    assert cfg.default_hooks.visualization.interval == 1  # --show-dir draws every image
    ratios = [t.scale_factor for t in cfg.tta_pipeline[1].transforms[0]]
    assert ratios == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]

    torch.manual_seed(0)
    model = _build_segmentor(cfg, crop=64)
    assert type(model).__name__ == 'EncoderDecoder'
    assert list(model.backbone.num_features) == [dims * 2**i for i in range(4)]
    assert list(model.decode_head.in_channels) == list(model.backbone.num_features)
    assert model.auxiliary_head.in_channels == model.backbone.num_features[2]

    # Forward + backward at a small crop: 64 px gives 16, 8, 4, 2-token stage maps, so the
    # window (16) is clipped in every stage (one window each), as the last stage is at 512.
    model.train()
    images, samples = _random_batch(2, 64, 150)
    data = model.data_preprocessor(dict(inputs=list(images), data_samples=samples), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) >= {'decode.loss_ce', 'aux.loss_ce'}
    assert data['inputs'].shape == (2, 3, 64, 64)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert model.backbone.patch_embed.projection.weight.grad.abs().sum() > 0


def test_no_weight_decay_groups():
    """AdamW decays every weight except 1-D parameters (norms, biases, q/v biases),
    logit_scale and the CPB MLP, as BEiT's and the official SwinV2 fine-tuning code (the
    lr of each group: tests/test_layer_decay.py)."""
    from mmengine.optim import build_optim_wrapper
    cfg = _config(ADE_CONFIGS['tiny'])
    cfg.model.backbone.arch = dict(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))
    cfg.model.decode_head.in_channels = [32, 64, 128, 256]
    cfg.model.auxiliary_head.in_channels = 128
    model = _build_segmentor(cfg)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay_of = {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            decay_of[names[id(p)]] = group['weight_decay']
    assert len(decay_of) == len(names)
    expected_free = {n for n, p in model.named_parameters() if p.ndim == 1 or (
        n.startswith('backbone.') and any(part in n for part in NO_DECAY_PARTS))}
    free = {n for n, wd in decay_of.items() if wd == 0.0}
    assert free == expected_free
    assert any('cpb_mlp.0.weight' in n for n in free)
    assert 'backbone.stages.1.downsample.norm.weight' in free
    assert 'backbone.norm3.bias' in free
    assert decay_of['backbone.stages.0.blocks.0.attn.qkv.weight'] == 0.05
    assert decay_of['decode_head.conv_seg.weight'] == 0.05
    assert decay_of['decode_head.fpn_bottleneck.bn.weight'] == 0.0  # 1-D: as BEiT's


def test_ade_shapes_is_ade_format_and_deterministic(tmp_path):
    from PIL import Image

    from swinv2_mm.demo.ade_shapes import CLASSES, generate
    root_a = generate(str(tmp_path / 'a'), num_train=3, num_val=2, seed=3)
    root_b = generate(str(tmp_path / 'b'), num_train=3, num_val=2, seed=3)
    for split, count in (('training', 3), ('validation', 2)):
        images = sorted(glob.glob(osp.join(root_a, 'images', split, '*.jpg')))
        labels = sorted(glob.glob(osp.join(root_a, 'annotations', split, '*.png')))
        assert len(images) == len(labels) == count
        for img, lab in zip(images, labels):
            other = lab.replace(root_a, root_b)
            assert open(lab, 'rb').read() == open(other, 'rb').read()
            label = np.asarray(Image.open(lab))
            assert label.dtype == np.uint8 and label.ndim == 2
            assert Image.open(img).size == label.shape[::-1]
            assert label.max() <= len(CLASSES)
    # 0 ("other") is present, as in ADE, so reduce_zero_label has something to ignore.
    all_labels = np.concatenate([np.asarray(Image.open(p)).ravel() for p in
                                 glob.glob(osp.join(root_a, 'annotations', '*', '*.png'))])
    assert (all_labels == 0).any() and (all_labels > 0).any()

    # The demo config's dataset (mmseg's BaseSegDataset + pipeline) reads it the ADE way.
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope('mmseg')
    cfg = _config(DEMO_CONFIG)
    assert tuple(cfg.metainfo.classes) == CLASSES
    dataset_cfg = cfg.val_dataloader.dataset.copy()
    dataset_cfg.data_root = root_a
    dataset = DATASETS.build(dataset_cfg)
    assert len(dataset) == 2 and dataset.metainfo['classes'] == CLASSES
    item = dataset[0]
    gt = item['data_samples'].gt_sem_seg.data
    raw = np.asarray(Image.open(dataset.get_data_info(0)['seg_map_path']))
    assert item['data_samples'].ori_shape == raw.shape
    assert gt.shape[-2:] == raw.shape
    values = set(torch.unique(gt).tolist())
    assert values <= set(range(len(CLASSES))) | {255}
    # reduce_zero_label: 0 -> 255 (ignored), k -> k - 1
    expected = np.where(raw == 0, 255, raw.astype(np.int64) - 1)
    assert np.array_equal(gt[0].numpy(), expected)


def test_iou_metric_known_values():
    """IoUMetric on hand-made predictions gives the IoUs computed by hand."""
    from mmseg.evaluation import IoUMetric
    gt = torch.tensor([[0, 0, 1, 1],
                       [0, 0, 1, 1],
                       [2, 2, 2, 255],
                       [2, 2, 2, 255]])
    pred = torch.tensor([[0, 1, 1, 1],
                         [0, 0, 1, 2],
                         [2, 2, 0, 0],
                         [2, 2, 2, 1]])
    # Over the 14 labelled pixels (255 ignored):
    #   class 0: gt 4, pred 4 (3 correct + 1 at a class-2 pixel), intersection 3, union 5
    #   class 1: gt 4, pred 4 (3 correct + 1 at a class-0 pixel), intersection 3, union 5
    #   class 2: gt 6, pred 6 (5 correct + 1 at a class-1 pixel), intersection 5, union 7
    iou = [3 / 5, 3 / 5, 5 / 7]
    acc = [3 / 4, 3 / 4, 5 / 6]
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    sample = dict(pred_sem_seg=dict(data=pred[None]), gt_sem_seg=dict(data=gt[None]))
    metric.process({}, [sample])
    result = metric.evaluate(1)
    assert result['aAcc'] == pytest.approx(round(100 * 11 / 14, 2))
    assert result['mIoU'] == pytest.approx(round(100 * sum(iou) / 3, 2))
    assert result['mAcc'] == pytest.approx(round(100 * sum(acc) / 3, 2))


@pytest.fixture(scope='module')
def trained_demo(tmp_path_factory):
    """A few Runner iterations of the demo config on freshly generated data."""
    from swinv2_mm.demo.ade_shapes import generate
    from swinv2_mm.engine import prepare_train_config, run_train
    tmp = tmp_path_factory.mktemp('seg_demo')
    data_root = generate(str(tmp / 'data'), num_train=6, num_val=2, seed=1)
    options = {f'{d}.dataset.data_root': data_root
               for d in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
    train_options = dict(options)
    train_options.update({
        'train_cfg.max_iters': 3, 'train_cfg.val_interval': 3,
        'default_hooks.checkpoint.interval': 3, 'default_hooks.logger.interval': 1,
        'train_dataloader.batch_size': 2,
        'param_scheduler': [dict(type='ConstantLR', factor=1.0, by_epoch=False)],
    })
    work_dir = str(tmp / 'work')
    cfg = prepare_train_config(osp.join(ROOT, DEMO_CONFIG), work_dir=work_dir,
                               cfg_options=train_options)
    runner = run_train(cfg)
    return runner, options, work_dir


def test_runner_trains_and_validates_on_generated_data(trained_demo):
    runner, _, work_dir = trained_demo
    assert runner.iter == 3
    assert osp.isfile(osp.join(work_dir, 'iter_3.pth'))
    hub = runner.message_hub
    assert math.isfinite(hub.get_scalar('train/loss').current())
    # The validation at the last iteration ran IoUMetric on the held-out images.
    for key in ('val/aAcc', 'val/mIoU', 'val/mAcc'):
        value = hub.get_scalar(key).current()
        assert 0.0 <= value <= 100.0


def test_tta_evaluation_on_two_images(trained_demo):
    """tools/test.py --tta path: SegTTAModel over the tta_pipeline, IoUMetric on 2 images."""
    from swinv2_mm.engine import prepare_test_config, run_test
    _, options, work_dir = trained_demo
    checkpoint = osp.join(work_dir, 'iter_3.pth')
    show_dir = osp.join(work_dir, 'show')
    # A fresh visualizer name: mmengine hands a second Runner in the same process the
    # training Runner's visualizer (same name), which writes under the training log dir.
    options = dict(options, **{'visualizer.name': 'test_segmentation_tta'})
    cfg = prepare_test_config(osp.join(ROOT, DEMO_CONFIG), checkpoint, work_dir=work_dir,
                              show_dir=show_dir, tta=True, cfg_options=options)
    assert cfg.model.type == 'SegTTAModel'
    metrics = run_test(cfg)
    assert set(metrics) >= {'aAcc', 'mIoU', 'mAcc'}
    assert math.isfinite(metrics['mIoU']) and 0.0 <= metrics['mIoU'] <= 100.0
    overlays = glob.glob(osp.join(show_dir, '**', '*.png'), recursive=True)
    assert len(overlays) == 2


def test_demo_config_ade20k_siblings_share_model_family():
    demo = _config(DEMO_CONFIG)
    ade = _config(ADE_CONFIGS['tiny'])
    assert demo.model.type == ade.model.type == 'EncoderDecoder'
    assert demo.model.decode_head.type == ade.model.decode_head.type == 'UPerHead'
    assert demo.model.auxiliary_head.type == ade.model.auxiliary_head.type == 'FCNHead'
    assert demo.optim_wrapper.paramwise_cfg == ade.optim_wrapper.paramwise_cfg
    assert os.path.normpath(demo.data_root) == 'data/synthetic_ade/ADEChallengeData2016'
