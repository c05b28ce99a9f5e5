# SwinV2-S Mask2Former, ADE20K: 512x512 crops, 160k iterations, 8 GPUs x 2 images.
# Follows mmseg's mask2former/mask2former_swin-s_8xb2-160k_ade20k-512x512.py (Swin-S: 51.24
# mIoU): the Swin-T config (mask2former_swinv2_tiny_ade20k.py, V2 changes listed there) with
# 18 blocks in stage 3 and its checkpoint.
_base_ = ['./mask2former_swinv2_tiny_ade20k.py']

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_small_patch4_window16_256.pth'  # noqa
model = dict(
    backbone=dict(
        arch='small',
        window_size=16,
        pretrained_window_sizes=[16, 16, 16, 8],
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
