# SwinV2-L Cascade Mask R-CNN, 3x, multi-scale + crop: NOT a paper setting. The paper ran
# SwinV2-L on COCO only at system level (HTC++, 1536x1536, window 32:
# htc_swinv2_large_w32_coco_1536.py); this is the T/S/B ablation recipe
# (_base_/cascade_swinv2_coco.py: AdamW 1e-4, wd 0.05, batch 16, 3x) applied to L, with the
# 22K->1K 384-px checkpoint at its fine-tuning window 24.
_base_ = './_base_/cascade_swinv2_coco.py'

# ImageNet-22K (192 px, window 12) -> 1K at 384 px, window 24; pretrained windows
# [12, 12, 12, 6] as for SwinV2-B (see cascade_swinv2_base_coco.py for the reasoning).
# Offline: --cfg-options model.backbone.init_cfg.checkpoint=/local/swinv2_large_patch4_window12to24_192to384_22kto1k_ft.pth
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_large_patch4_window12to24_192to384_22kto1k_ft.pth'  # noqa
model = dict(
    backbone=dict(
        arch='large',
        window_size=24,
        pretrained_window_sizes=[12, 12, 12, 6],
        # same depth as B (24 blocks), more width; 0.3 as B (no published V2-L detection
        # recipe; 22K pretraining regularises already)
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[192, 384, 768, 1536]))
