# SwinV2-B DINO, 5 scales, COCO detection, 12 epochs. mmdet has no Swin-B DINO config: this
# is dino_swinv2_large_coco_12e.py (after mmdet's dino/dino-5scale_swin-l_8xb2-12e_coco.py)
# with the B backbone from its ImageNet-22K -> 1K 384 px checkpoint: window 24, pretrained
# windows [12, 12, 12, 6]; drop path 0.2 and with_cp as V1 Swin-L.
_base_ = ['./dino_swinv2_large_coco_12e.py']

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_base_patch4_window12to24_192to384_22kto1k_ft.pth'  # noqa
model = dict(
    backbone=dict(arch='base', init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[128, 256, 512, 1024]))
