# SwinV2-S Mask2Former, COCO panoptic: LSJ 1024, 50 epochs, 8 GPUs x 2 images.
# Follows mmdet's mask2former/mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco-panoptic.py
# (Swin-S: 54.5 PQ), which changes only the depth and checkpoint of the Swin-T config; so does
# this one of mask2former_swinv2_tiny_coco-panoptic.py (V2 changes listed there). The optimizer
# keys hold at any depth: nothing to regenerate for 18 blocks.
_base_ = ['./mask2former_swinv2_tiny_coco-panoptic.py']

# ImageNet-1K, 256 px, window 16; last stage clipped to 8 in pre-training.
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_small_patch4_window16_256.pth'  # noqa
model = dict(
    backbone=dict(
        arch='small',
        window_size=16,
        pretrained_window_sizes=[16, 16, 16, 8],
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
