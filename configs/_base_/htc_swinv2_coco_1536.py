# Hybrid Task Cascade with a Swin Transformer V2 backbone on COCO: the SwinV2 paper's
# system-level COCO setting (arXiv 2111.09883, appendix "Experimental Settings", SwinV2-B/L),
# as far as mmdetection has its parts: 1536x1536 input, window 32, scale jitter [0.1, 2.0],
# AdamW lr 4e-4 at batch 64, weight decay 0.05, 3x schedule, backbone lr 0.1x the heads',
# soft-NMS at test, ImageNet-22K backbones (192 px, window 12).
#
# What differs from the paper's HTC++ (docs/recipes.md has the table):
#   - mmdet's HybridTaskCascade without its semantic branch (mmdet's
#     htc-without-semantic_r50_fpn_1x_coco.py heads): HTC's semantic head needs the COCO-stuff
#     segmentation maps (stuffthingmaps), which plain COCO lacks; mmdet's htc_r50_fpn_1x_coco.py
#     shows how to add them if you have that data.
#   - no Instaboost: mmdet's InstaBoost transform needs the external `instaboostfast` package.
#   - no extra global self-attention layer after the last stage (Swin V1's HTC++ had one).
# Memory: every block is checkpointed (with_cp) and the attention runs through
# scaled_dot_product_attention (memory-efficient kernels on GPU); the estimate per 1536x1536
# image, from a measured CPU training step, is in docs/recipes.md.
_base_ = ['mmdet::htc/htc-without-semantic_r50_fpn_1x_coco.py', './swinv2_no_decay.py']

custom_imports = dict(imports=['swinv2_mm'], allow_failed_imports=False)

image_size = (1536, 1536)
model = dict(
    # Every training batch is padded to 1536x1536 (the random crop can be smaller).
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)]),
    backbone=dict(
        _delete_=True,
        type='SwinTransformerV2',
        arch='base',
        # At 1536 the stage maps are 384, 192, 96 and 48 tokens a side: window 32 divides the
        # first three; the last stage pads 48 to 64 (2x2 windows, shifted).
        window_size=32,
        # The 22K checkpoints ran window 12 at 192 px, the last stage clipped to 6.
        pretrained_window_sizes=[12, 12, 12, 6],
        drop_path_rate=0.3,  # not given by the paper for COCO; the ADE20K system-level value
        out_indices=(0, 1, 2, 3),
        with_cp=True,
        init_cfg=dict(type='Pretrained',
                      checkpoint='https://github.com/SwinTransformer/storage/releases/'
                      'download/v2.0.0/swinv2_base_patch4_window12_192_22k.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]),
    # soft-NMS at test, as the paper
    test_cfg=dict(rcnn=dict(nms=dict(type='soft_nms', iou_threshold=0.5))))

# Scale jitter [0.1, 2.0] around 1536x1536, random 1536x1536 crop, flip (mmdet's large-scale
# jitter pipeline, configs/common/lsj-100e_coco-instance.py, at 1536).
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size,
         recompute_bbox=True, allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
# Single-scale test: the longer side at 1536 (the paper does not give its test sizes).
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
# Batch 64 = 64 GPUs x 1 image. With fewer GPUs, `tools/train.py ... --auto-scale-lr` scales
# the lr linearly to the total batch (base_batch_size below); that is then not the paper's.
train_dataloader = dict(batch_size=1, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
auto_scale_lr = dict(enable=False, base_batch_size=64)

# 3x: 36 epochs, lr x0.1 at epochs 27 and 33, 1000 iterations of linear warm-up.
max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33],
         gamma=0.1),
]

# AdamW lr 4e-4, wd 0.05; the backbone's lr 0.1x. swinv2_mm's constructor combines the
# backbone's lr_mult with the no-decay keys (mmengine's own would let the longer key
# 'backbone' win and decay the backbone's norms and CPB MLP); no layer-wise decay here.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='SwinV2LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=1.0,
                       custom_keys=dict(_base_.swinv2_no_decay, backbone=dict(lr_mult=0.1))))
