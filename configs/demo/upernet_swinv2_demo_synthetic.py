# A small SwinV2 UperNet trained from scratch on the generated ADE20K-format shapes data
# (swinv2_mm/demo/ade_shapes.py), sized for a 2-core CPU: tools/demo_segmentation.py runs it.
# Same model family, heads, metric, dataset conventions (reduce_zero_label) and parameter
# groups as configs/upernet_swinv2_*_ade20k.py; smaller backbone, crops and schedule.
_base_ = ['mmseg::_base_/models/upernet_swin.py', 'mmseg::_base_/default_runtime.py',
          '../_base_/swinv2_no_decay.py']

custom_imports = dict(imports=['swinv2_mm'], allow_failed_imports=False)

crop_size = (128, 128)
# One process on a CPU: plain BatchNorm in the heads.
norm_cfg = dict(type='BN', requires_grad=True)
num_classes = 5
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='SwinTransformerV2',
        embed_dims=32,
        depths=(2, 2, 2, 2),
        num_heads=(1, 2, 4, 8),
        # Stage maps of a 128 crop are 32, 16, 8, 4 tokens: window 8 divides the first two;
        # the last two are one window each (clipped, unshifted), as at full scale.
        window_size=8,
        drop_path_rate=0.1,
        init_cfg=None),
    decode_head=dict(
        in_channels=[32, 64, 128, 256],
        channels=64,
        num_classes=num_classes,
        norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=128,
        in_index=2,
        channels=32,
        num_classes=num_classes,
        norm_cfg=norm_cfg))

# The generated data: ADE20K layout, .jpg images, label PNGs where 0 is "other" and classes
# are 1..5 (reduce_zero_label=True maps them to 0..4 and 0 to the ignore index 255).
dataset_type = 'BaseSegDataset'
data_root = 'data/synthetic_ade/ADEChallengeData2016'
metainfo = dict(
    classes=('wall', 'floor', 'disc', 'box', 'roof'),
    palette=[[120, 120, 120], [80, 50, 50], [6, 230, 230], [204, 5, 255], [255, 82, 0]])
# No photometric distortion: colour is one of the cues that identify these classes.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(256, 128), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 128), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        metainfo=metainfo,
        data_root=data_root,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        metainfo=metainfo,
        data_root=data_root,
        data_prefix=dict(img_path='images/validation',
                         seg_map_path='annotations/validation'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

# From scratch, so a larger learning rate than the fine-tuning recipe's 4e-5; the same
# parameter groups as the ADE20K configs: the paper's layer-wise lr decay 0.95 (10 layer ids
# here: the patch embedding trains at 0.95^9 = 0.63x the heads' lr) and no decay on 1-D
# parameters, logit_scale and the CPB MLP.
max_iters = 400
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01),
    constructor='SwinV2LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.95, flat_decay_mult=0.0,
                       custom_keys={{_base_.swinv2_no_decay}}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters),
    # Colour overlays of the held-out images are written when `draw` is on (the demo script
    # and `tools/test.py --show-dir` turn it on).
    visualization=dict(type='SegVisualizationHook', draw=False, interval=1))
randomness = dict(seed=0)
work_dir = 'work_dirs/upernet_swinv2_demo_synthetic'

img_ratios = [0.75, 1.0, 1.25]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in img_ratios],
            [
                dict(type='RandomFlip', prob=0.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
            ],
            [dict(type='LoadAnnotations', reduce_zero_label=True)],
            [dict(type='PackSegInputs')],
        ]),
]
tta_model = dict(type='SegTTAModel')
