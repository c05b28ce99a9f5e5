# SwinV2-S Mask2Former, COCO instance segmentation: LSJ 1024, 50 epochs, 8 GPUs x 2 images.
# Follows mmdet's mask2former/mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco.py (Swin-S:
# 49.3 box / 46.1 mask AP): the Swin-T config (mask2former_swinv2_tiny_coco.py) with 18 blocks
# in stage 3 and its checkpoint.
_base_ = ['./mask2former_swinv2_tiny_coco.py']

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_small_patch4_window16_256.pth'  # noqa
model = dict(
    backbone=dict(
        arch='small',
        window_size=16,
        pretrained_window_sizes=[16, 16, 16, 8],
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
