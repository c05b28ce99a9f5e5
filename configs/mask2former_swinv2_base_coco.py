# SwinV2-B Mask2Former, COCO instance segmentation: LSJ 1024, 50 epochs, 8 GPUs x 2 images.
# mmdet has no Swin-B instance config: this is the Swin-T instance recipe
# (mask2former_swinv2_tiny_coco.py, after mmdet's mask2former_swin-t-p4-w7-224_8xb2-lsj-50e_coco.py)
# with the backbone of mask2former_swinv2_base_coco-panoptic.py, as mmdet's
# mask2former_swin-b-p4-w12-384-in21k_8xb2-lsj-50e_coco-panoptic.py does for panoptic:
# ImageNet-22K -> 1K 384 px checkpoint, pretrained windows [12, 12, 12, 6], window 32 (tiles
# the 1024 crop; the SwinV2 paper's COCO window).
_base_ = ['./mask2former_swinv2_tiny_coco.py']

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_base_patch4_window12to24_192to384_22kto1k_ft.pth'  # noqa
model = dict(
    backbone=dict(
        arch='base',
        window_size=32,
        pretrained_window_sizes=[12, 12, 12, 6],
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    panoptic_head=dict(in_channels=[128, 256, 512, 1024]))
