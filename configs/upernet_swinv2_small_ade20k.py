# SwinV2-S UperNet, ADE20K 512x512, 160k iterations, 8 GPUs x 2 images.
# ImageNet-1K checkpoint at 256 px, window 16 (last stage clipped to 8 in pre-training).
_base_ = ['./_base_/upernet_swinv2_ade20k.py']

model = dict(
    backbone=dict(
        arch='small',
        window_size=16,
        pretrained_window_sizes=[16, 16, 16, 8],
        init_cfg=dict(checkpoint='https://github.com/SwinTransformer/storage/releases/'
                      'download/v2.0.0/swinv2_small_patch4_window16_256.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
