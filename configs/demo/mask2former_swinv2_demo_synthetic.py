# A small SwinV2 Mask2Former trained from scratch on the generated ADE20K-format shapes data
# (swinv2_mm/demo/ade_shapes.py), sized for a 2-core CPU: tools/demo_mask2former.py runs it.
# The model family of configs/mask2former_swinv2_*_ade20k.py (mmseg's EncoderDecoder with
# mmdet's Mask2Former: multi-scale deformable-attention pixel decoder, masked-attention
# transformer decoder, Hungarian matching on sampled points, IoUMetric), with a smaller
# backbone, head, crop and schedule. Data and pipelines as the UperNet demo
# (configs/demo/upernet_swinv2_demo_synthetic.py), so the two heads can be compared.
_base_ = ['../mask2former_swinv2_tiny_ade20k.py']

crop_size = (128, 128)
num_classes = 5
feat = 64  # the head's width (COCO/ADE configs: 256)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        embed_dims=32,  # given directly, these override arch='tiny''s
        depths=(2, 2, 2, 2),
        num_heads=(1, 2, 4, 8),
        # Stage maps of a 128 crop: 32, 16, 8, 4 tokens; window 8 tiles the first two, the
        # last two are one window each, as the full-size configs' last stage.
        window_size=8,
        pretrained_window_sizes=0,  # from scratch: normalise by the window in use
        drop_path_rate=0.1,
        init_cfg=None),
    decode_head=dict(
        in_channels=[32, 64, 128, 256],
        feat_channels=feat,
        out_channels=feat,
        num_classes=num_classes,
        num_queries=16,
        pixel_decoder=dict(
            encoder=dict(
                num_layers=2,
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=feat, num_heads=4),
                    ffn_cfg=dict(embed_dims=feat, feedforward_channels=2 * feat))),
            positional_encoding=dict(num_feats=feat // 2)),
        positional_encoding=dict(num_feats=feat // 2),
        transformer_decoder=dict(
            num_layers=3,  # one round over the three feature levels (COCO/ADE: 9)
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=feat, num_heads=4),
                cross_attn_cfg=dict(embed_dims=feat, num_heads=4),
                ffn_cfg=dict(embed_dims=feat, feedforward_channels=4 * feat))),
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1]),
        # the mask logits of a 128 crop are 32 x 32: sample that many points (ADE: 112^2)
        train_cfg=dict(num_points=32 * 32)))

# The generated data: ADE20K layout, label PNGs where 0 is "other" and classes are 1..5
# (reduce_zero_label=True maps them to 0..4 and 0 to the ignore index 255).
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
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
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
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        _delete_=True,
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

# The ADE20K configs' optimizer (AdamW, clipping at 0.01, their parameter groups) with two
# changes for training from scratch: lr 1e-3 instead of fine-tuning's 1e-4, and the backbone at
# the head's rate instead of 0.1x (that is for a pretrained backbone).
max_iters = 200
optim_wrapper = dict(
    optimizer=dict(lr=1e-3),
    paramwise_cfg=dict(custom_keys=dict(
        _delete_=True,
        **{k: dict(v, lr_mult=1.0) for k, v in _base_.swinv2_mask2former_keys.items()})))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                    save_best=None, max_keep_ckpts=1),
    # Colour overlays of the held-out images are written when `draw` is on (the demo script
    # and `tools/test.py --show-dir` turn it on).
    visualization=dict(type='SegVisualizationHook', draw=False, interval=1))
randomness = dict(seed=0)
work_dir = 'work_dirs/mask2former_swinv2_demo_synthetic'
