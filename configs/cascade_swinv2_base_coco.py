# SwinV2-B Cascade Mask R-CNN, 3x, multi-scale + crop (recipe in _base_/cascade_swinv2_coco.py).
_base_ = './_base_/cascade_swinv2_coco.py'

# ImageNet-22K (192 px, window 12) -> 1K fine-tuned at 384 px with window 24. Both stages of
# training kept the 22K run's coordinate normalisation: windows [12, 12, 12, 6] (the last stage
# ran clipped to 6 at 192 px). pretrained_window_sizes must say so, or the continuous position
# bias is evaluated at the wrong coordinates (the loader checks it against the checkpoint's
# stored coordinate tables and stops with a clear error otherwise).
# Window 24: the window this checkpoint was fine-tuned at (its CPB has already been adapted to
# it; larger windows help dense prediction, SwinV2 paper Sec. 4). The 12to16 (256 px) variant
# works with window_size=16 and the same pretrained windows.
# Offline: --cfg-options model.backbone.init_cfg.checkpoint=/local/swinv2_base_patch4_window12to24_192to384_22kto1k_ft.pth
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_base_patch4_window12to24_192to384_22kto1k_ft.pth'  # noqa
model = dict(
    backbone=dict(
        arch='base',
        window_size=24,
        pretrained_window_sizes=[12, 12, 12, 6],
        # 0.3: Swin-B's value in the Swin papers' Cascade Mask R-CNN configs
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[128, 256, 512, 1024]))
