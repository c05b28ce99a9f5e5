# SwinV2-L UperNet, ADE20K: the SwinV2 paper's system-level ADE20K setting (640x640, window 40,
# AdamW 6e-5, wd 0.05, 375-iteration warm-up then linear decay, batch 64 = 32 GPUs x 2,
# 40k iterations, drop path 0.3; recipe in _base_/upernet_swinv2_ade20k_640.py, compared with
# the paper line by line in docs/recipes.md). Backbone: ImageNet-22K, 192 px, window 12
# (swinv2_large_patch4_window12_192_22k.pth) -> pretrained windows [12, 12, 12, 6].
# Test-time window enlargement (the paper's 40 -> 56, at 896 px): docs/recipes.md.
_base_ = ['./_base_/upernet_swinv2_ade20k_640.py']

model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(checkpoint='https://github.com/SwinTransformer/storage/releases/'
                      'download/v2.0.0/swinv2_large_patch4_window12_192_22k.pth')),
    decode_head=dict(in_channels=[192, 384, 768, 1536]),
    auxiliary_head=dict(in_channels=768))
