# SwinV2-B UperNet, ADE20K 512x512, 160k iterations, 8 GPUs x 2 images.
# ImageNet-22K -> 1K checkpoint (pre-trained at 192 px with window 12, last stage clipped
# to 6; fine-tuned at 256 px with window 16): pretrained windows [12, 12, 12, 6].
# The 12to24 (384 px) checkpoint has the same pretrained windows and loads too.
_base_ = ['./_base_/upernet_swinv2_ade20k.py']

model = dict(
    backbone=dict(
        arch='base',
        window_size=16,
        pretrained_window_sizes=[12, 12, 12, 6],
        init_cfg=dict(checkpoint='https://github.com/SwinTransformer/storage/releases/'
                      'download/v2.0.0/swinv2_base_patch4_window12to16_192to256_22kto1k_ft.pth')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
