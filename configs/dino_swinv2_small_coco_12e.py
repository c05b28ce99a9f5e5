# SwinV2-S DINO, 5 scales, COCO detection, 12 epochs. mmdet has no Swin-S DINO config: this
# is dino_swinv2_large_coco_12e.py (after mmdet's dino/dino-5scale_swin-l_8xb2-12e_coco.py)
# with the S backbone from the ImageNet-1K 256 px window-16 checkpoint at window 16 (pretrained
# windows [16, 16, 16, 8]: its last stage ran clipped to 8), drop path 0.3 (V2-S's own
# ImageNet value), with_cp as V1 Swin-L.
_base_ = ['./dino_swinv2_large_coco_12e.py']

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_small_patch4_window16_256.pth'  # noqa
model = dict(
    backbone=dict(
        arch='small',
        window_size=16,
        pretrained_window_sizes=[16, 16, 16, 8],
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
