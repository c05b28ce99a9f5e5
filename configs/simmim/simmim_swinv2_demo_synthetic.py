# The embedded SimMIM demo (tools/demo_simmim.py): the recipe of _base_/simmim_swinv2_192px.py
# on the detection demo's small SwinV2 (configs/demo/cascade_swinv2_demo_synthetic.py: 32
# channels, depths 1-1-2-1, window 8) and its image size (160 px), pre-trained for minutes on
# a 2-core CPU on generated unlabeled images of the same shapes (swinv2_mm/demo/
# coco_shapes.py). What changes for CPU minutes instead of GPU days: iterations instead of
# epochs, batch 16, a larger learning rate, 16-pixel mask units and the raw-pixel target.
_base_ = ['./_base_/simmim_swinv2_192px.py']

img_size = 160
model = dict(backbone=dict(
    _delete_=True,
    type='SwinTransformerV2',
    arch=dict(embed_dims=32, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8]),
    window_size=8,
    pretrained_window_sizes=0,
    drop_path_rate=0.0,
    out_indices=(3,),
    use_mask_token=True),
    # The raw-pixel target (the SimMIM paper's default; transformers' MIM model): these
    # generated images carry per-pixel noise (std 8 grey levels), which the 47x47 normalised
    # target turns into a floor no model predicts below: with it, a trial run of this demo
    # stayed within a few percent of the loss of predicting every masked pixel as its
    # neighbourhood's mean.
    loss=dict(norm_target=False))

data_root = 'data/synthetic_unlabeled/images/'
train_pipeline = [
    dict(type='LoadRGBImage'),
    dict(type='SimMIMRandomResizedCrop', size=img_size, scale=(0.67, 1.0), ratio=(3 / 4, 4 / 3)),
    dict(type='SimMIMRandomFlip', prob=0.5),
    # 16-pixel units (10x10, 60 masked): 32-pixel ones hide whole shapes (26-64 px across
    # here, where ImageNet's objects fill much of a 192 px crop), and in trial runs the
    # network stayed at the loss of filling every hidden unit with the visible pixels' mean
    # colour; with 16-pixel units it learnt to paint them within 100 iterations.
    dict(type='SimMIMMaskGenerator', input_size=img_size, mask_patch_size=16,
         model_patch_size=4, mask_ratio=0.6),
    dict(type='PackSimMIMInputs'),
]
# num_workers=0: on 2 cores a loader process would only compete with the model for CPU.
train_dataloader = dict(
    _delete_=True,
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='UnlabeledImageFolder', data_root=data_root, pipeline=train_pipeline))

max_iters = 200
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', T_max=max_iters - 20, eta_min_ratio=0.01, by_epoch=False,
         begin=20, end=max_iters),
]
optim_wrapper = dict(optimizer=dict(lr=3e-3))
auto_scale_lr = dict(enable=False, base_batch_size=16)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1))
log_processor = dict(window_size=20, by_epoch=False)
