# UperNet + Swin Transformer V2 on ADE20K: the SwinV2 paper's ADE20K ablation setting
# (arXiv 2111.09883, appendix "Experimental Settings", SwinV2-T/S/B): 512x512 crops, window 16,
# AdamW lr 4e-5 / wd 0.05, layer-wise lr decay 0.95 (BEiT's), linear lr decay after a
# 1500-iteration linear warm-up, batch 16 (8 GPUs x 2 images), 160k iterations, flip + rescale
# [0.5, 2.0] + photometric distortion, stochastic depth 0.3; an auxiliary FCN head on stage 3,
# mIoU. Everything else comes from mmseg's own Swin V1 config (which brings the ADE20K dataset,
# runtime and 160k schedule bases); the sibling configs upernet_swinv2_{tiny,small,base,
# large}_ade20k.py choose the backbone size and checkpoint. docs/recipes.md: line by line.
_base_ = ['mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',
          './swinv2_no_decay.py']

custom_imports = dict(imports=['swinv2_mm'], allow_failed_imports=False)

crop_size = (512, 512)
# Official ImageNet checkpoints. Without internet, download the file elsewhere and pass
#   --cfg-options model.backbone.init_cfg.checkpoint=/local/file.pth
# (official, timm, transformers and mmpretrain files all load).
checkpoint_root = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/'

# Window and CPB transfer. At a 512 crop the four stage maps are 128, 64, 32 and 16 tokens a
# side: window 16 divides every one of them, so no stage pads, and the last stage is a single
# unshifted window. The continuous position bias is an MLP of *normalised* relative
# coordinates, so a checkpoint trained with window Wp evaluates the same curve at window 16
# as long as the coordinates are normalised by Wp, which is what `pretrained_window_sizes`
# says. It must be the window each stage ran at in pre-training, clipping included:
#   - 1K swinv2_{tiny,small}_patch4_window16_256: window 16 at 256 px, whose last stage
#     (8x8 map) was clipped to 8 -> [16, 16, 16, 8];
#   - 22K->1K swinv2_{base,large}_patch4_window12to16_192to256: fine-tuned with the 22K
#     model's windows, 12 (last stage clipped to 6 at 192 px) -> [12, 12, 12, 6].
#   - 1K swinv2_{tiny,small,base}_patch4_window8_256 (the paper's ablation pre-training):
#     window 8 at 256 px, no stage clipped (the last map is 8x8) -> [8, 8, 8, 8].
# The backbone's loader reads the windows back from the checkpoint's coordinate tables and
# raises an error that names the right values if these do not match.
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='SwinTransformerV2',
        arch='tiny',
        window_size=16,
        pretrained_window_sizes=[8, 8, 8, 8],
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint=checkpoint_root + 'swinv2_tiny_patch4_window8_256.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    # FCN auxiliary head on the third stage's output (stride 16).
    auxiliary_head=dict(in_channels=384, in_index=2, num_classes=150))

# AdamW lr 4e-5, wd 0.05, with BEiT's layer-wise lr decay 0.95 as the paper: the patch
# embedding gets lr x 0.95^(L-1) ... the heads lr x 1, L = sum(depths) + 2 layer ids counted
# as the official SwinV2 code (swinv2_mm/optim.py). No weight decay, as BEiT's and the official
# SwinV2 fine-tuning code: every 1-D parameter (biases, norms; flat_decay_mult), the attention
# temperature (logit_scale) and the CPB MLP (_base_/swinv2_no_decay.py).
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-5, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='SwinV2LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.95, flat_decay_mult=0.0,
                       custom_keys={{_base_.swinv2_no_decay}}))

# Linear warm-up over 1500 iterations, then linear decay to 0 (PolyLR with power 1).
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)

# 8 GPUs x 2 images = batch 16; scale the learning rate if you change the total batch
# (auto_scale_lr is off, as in mmseg's configs).
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
# `tools/test.py ... --show-dir DIR` turns drawing on; then draw every image, not every 50th
# (mmseg's schedule default).
default_hooks = dict(visualization=dict(type='SegVisualizationHook', draw=False, interval=1))
test_evaluator = val_evaluator

# Multi-scale + flip testing (`tools/test.py CONFIG CKPT --tta`), as mmseg's ADE20K base:
# each image at 0.5 ... 1.75 times its size, each also flipped; SegTTAModel averages the
# softmax maps of the 12 views.
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
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
