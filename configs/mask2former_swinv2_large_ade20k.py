# SwinV2-L Mask2Former, ADE20K: 640x640 crops, 160k iterations, 8 GPUs x 2 images.
# Follows mmseg's mask2former/mask2former_swin-l-in22k-384x384-pre_8xb2-160k_ade20k-640x640.py
# (Swin-L, ImageNet-22K: 56.01 mIoU): the Swin-B config (mask2former_swinv2_base_ade20k.py,
# V2 changes listed there: window 40, pretrained windows [12, 12, 12, 6]) with a wider
# backbone; 100 queries as V1.
_base_ = ['./mask2former_swinv2_base_ade20k.py']

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_large_patch4_window12to24_192to384_22kto1k_ft.pth'  # noqa
model = dict(
    backbone=dict(arch='large', init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(num_queries=100, in_channels=[192, 384, 768, 1536]))
