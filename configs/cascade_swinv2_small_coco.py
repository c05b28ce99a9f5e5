# SwinV2-S Cascade Mask R-CNN, 3x, multi-scale + crop (recipe in _base_/cascade_swinv2_coco.py).
_base_ = './_base_/cascade_swinv2_coco.py'

# ImageNet-1K, 256 px, window 16; last stage ran clipped to window 8, hence pretrained windows
# [16, 16, 16, 8] (see cascade_swinv2_tiny_coco.py for why this must match the checkpoint).
# Offline: --cfg-options model.backbone.init_cfg.checkpoint=/local/swinv2_small_patch4_window16_256.pth
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_small_patch4_window16_256.pth'  # noqa
model = dict(
    backbone=dict(
        arch='small',
        window_size=16,
        pretrained_window_sizes=[16, 16, 16, 8],
        # 24 blocks, twice T's depth: more stochastic depth, 0.3 as V2-S's own ImageNet run
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
