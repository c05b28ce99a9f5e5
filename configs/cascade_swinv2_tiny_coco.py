# SwinV2-T Cascade Mask R-CNN, 3x, multi-scale + crop (recipe in _base_/cascade_swinv2_coco.py).
_base_ = './_base_/cascade_swinv2_coco.py'

# ImageNet-1K, 256 px, window 16. Its last stage (8x8 map at 256 px) ran clipped to window 8,
# so the checkpoint's continuous position bias (CPB) was trained on coordinates normalised by
# [16, 16, 16, 8]; pretrained_window_sizes keeps that normalisation so the CPB meta network
# transfers to the detection window (the loader checks it against the checkpoint's stored
# coordinate tables). Window 16 = the pretraining window, so stages 0-2 see no extrapolation.
# Offline: --cfg-options model.backbone.init_cfg.checkpoint=/local/swinv2_tiny_patch4_window16_256.pth
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_tiny_patch4_window16_256.pth'  # noqa
model = dict(
    backbone=dict(
        arch='tiny',
        window_size=16,
        pretrained_window_sizes=[16, 16, 16, 8],
        # 12 blocks: as Swin-T in the Swin papers' detection configs (and V2-T's ImageNet run)
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
