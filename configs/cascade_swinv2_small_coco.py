# SwinV2-S Cascade Mask R-CNN, COCO: the SwinV2 paper's COCO ablation setting (multi-scale
# 480-800 / 1333, window 16, AdamW 1e-4, wd 0.05, batch 16, 3x; recipe in
# _base_/cascade_swinv2_coco.py, compared with the paper line by line in docs/recipes.md).
_base_ = './_base_/cascade_swinv2_coco.py'

# ImageNet-1K, 256 px, window 8 (the paper's ablation pre-training): pretrained windows
# [8, 8, 8, 8] (see cascade_swinv2_tiny_coco.py for why this must match the checkpoint).
# Offline: --cfg-options model.backbone.init_cfg.checkpoint=/local/swinv2_small_patch4_window8_256.pth
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_small_patch4_window8_256.pth'  # noqa
model = dict(
    backbone=dict(
        arch='small',
        window_size=16,
        pretrained_window_sizes=[8, 8, 8, 8],
        # not given by the paper; 24 blocks, twice T's depth: 0.3 as V2-S's own ImageNet run
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
