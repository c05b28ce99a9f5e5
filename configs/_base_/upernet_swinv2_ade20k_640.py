# UperNet + Swin Transformer V2 on ADE20K: the SwinV2 paper's system-level ADE20K setting
# (arXiv 2111.09883, appendix "Experimental Settings", SwinV2-B/L): 640x640 crops, window 40,
# AdamW lr 6e-5 / wd 0.05, linear lr decay after a 375-iteration linear warm-up, batch 64,
# 40k iterations, mmseg's augmentations (flip, rescale [0.5, 2.0], photometric distortion),
# stochastic depth 0.3, ImageNet-22K backbones (192 px, window 12). Layer-wise lr decay 0.95:
# the paper states it for "all experiments" of its ADE20K ablation and not again here; kept
# (set optim_wrapper.paramwise_cfg.layer_decay_rate=1.0 to turn it off). Everything else as
# the 512x512 recipe (_base_/upernet_swinv2_ade20k.py). docs/recipes.md: line by line.
_base_ = ['./upernet_swinv2_ade20k.py']

crop_size = (640, 640)
# At a 640 crop the stage maps are 160, 80, 40 and 20 tokens a side: window 40 divides the
# first three; the last stage (20 < 40) is one unshifted 20x20 window, as the official rule.
# The 22K checkpoints ran window 12 at 192 px, last stage clipped to 6: pretrained windows
# [12, 12, 12, 6] keep the CPB on the coordinates it was trained with.
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch='base',
        window_size=40,
        pretrained_window_sizes=[12, 12, 12, 6],
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='https://github.com/SwinTransformer/storage/releases/'
                      'download/v2.0.0/swinv2_base_patch4_window12_192_22k.pth')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))

# mmseg's ADE20K 640x640 pipelines (_base_/datasets/ade20k_640x640.py): short side 640,
# rescaled by [0.5, 2.0], 640 crops, flip, photometric distortion.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(2560, 640), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2560, 640), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
# Batch 64 = 32 GPUs x 2 images. With fewer GPUs, `tools/train.py ... --auto-scale-lr`
# scales the lr linearly to the total batch (base_batch_size below); that is then no longer
# the paper's batch.
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
auto_scale_lr = dict(enable=False, base_batch_size=64)

optim_wrapper = dict(optimizer=dict(lr=6e-5))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=375),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=375, end=40000, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))
