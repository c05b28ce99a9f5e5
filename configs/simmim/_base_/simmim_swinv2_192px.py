# SimMIM pre-training of SwinV2 at 192 px: the official recipe (microsoft/Swin-Transformer
# configs/simmim/simmim_pretrain__swinv2_base__img192_window12__800ep.yaml, models/simmim.py,
# data/data_simmim_pt.py), built from mmengine parts by swinv2_mm.selfsup. The size configs
# beside this folder set the backbone (and the decoder follows it). docs/simmim.md.
#
#   .venv/bin/python tools/train.py configs/simmim/simmim_swinv2_base_w12_192px_800e.py \
#       --amp --cfg-options train_dataloader.dataset.data_root=/path/to/images
_base_ = ['../../_base_/swinv2_no_decay.py']
# Built from mmengine's root registries (where swinv2_mm registers everything); no mmdet or
# mmseg involved.
default_scope = 'mmengine'
custom_imports = dict(imports=['swinv2_mm.selfsup'], allow_failed_imports=False)

img_size = 192
model = dict(
    type='SimMIM',
    backbone=dict(
        type='SwinTransformerV2',
        arch='base',
        window_size=12,  # the last stage (6x6 at 192 px) runs one unshifted 6x6 window
        pretrained_window_sizes=0,  # from scratch: normalise by the window in use
        drop_path_rate=0.1,
        out_indices=(3,),
        use_mask_token=True),
    # Conv2d(last stage's channels, 32² · 3, 1) + PixelShuffle(32); in_channels follows the
    # backbone.
    decoder=dict(type='SimMIMLinearDecoder', encoder_stride=32),
    # L1 on the masked pixels against the image normalised in 47x47 windows (NORM_TARGET).
    loss=dict(type='SimMIMReconstructionLoss', norm_target=True, norm_target_window=47),
    # ImageNet mean / std on RGB (the pipeline loads RGB).
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=False))

# Unlabeled images: any folder (sub-folders included, e.g. ImageNet's train/), any sizes.
data_root = 'data/imagenet/train/'
train_pipeline = [
    dict(type='LoadRGBImage'),
    dict(type='SimMIMRandomResizedCrop', size=img_size, scale=(0.67, 1.0), ratio=(3 / 4, 4 / 3)),
    dict(type='SimMIMRandomFlip', prob=0.5),
    # 32-pixel units, 60 % masked (22 of 36), as a 48x48 mask over the 4-pixel patches
    dict(type='SimMIMMaskGenerator', input_size=img_size, mask_patch_size=32,
         model_patch_size=4, mask_ratio=0.6),
    dict(type='PackSimMIMInputs'),
]
# 128 images per GPU; the official runs used 16 GPUs (2048 in all).
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='UnlabeledImageFolder', data_root=data_root, pipeline=train_pipeline))

# 800 epochs; 10 epochs of linear warm-up from 5e-7 (per 512 images) to the base rate, x0.1
# at epoch 700 (counted from the start, as the official multistep schedule).
max_epochs = 800
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=5e-7 / 1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='MultiStepLR', milestones=[700], gamma=0.1, by_epoch=True, begin=0,
         end=max_epochs),
]

# AdamW, lr 1e-4 per 512 images (4e-4 for the official 2048), betas (0.9, 0.999), weight
# decay 0.05, gradient clipping at 5. No decay on biases, norms, the attention temperature,
# the CPB MLP, q/v biases and the mask token (_base_/swinv2_no_decay.py), as the official
# get_pretrain_param_groups. AMP: tools/train.py --amp on a GPU (float16 with dynamic loss
# scaling, as the official --enable-amp); float32 otherwise.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4 * 2048 / 512, betas=(0.9, 0.999), eps=1e-8,
                   weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(bias_decay_mult=0.0, custom_keys={{_base_.swinv2_no_decay}}))
# The official code always scales the learning rate with the total batch (lr = 1e-4 ·
# batch / 512); so does this config: the rate above is for 2048 images per step.
auto_scale_lr = dict(enable=True, base_batch_size=2048)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # every epoch, as the official SAVE_FREQ 1 (and auto-resume: tools/train.py --resume)
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(window_size=50, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
