# SwinV2-B UperNet, ADE20K: the SwinV2 paper's ADE20K ablation setting (512x512, window 16,
# AdamW 4e-5, wd 0.05, layer-wise lr decay 0.95, 1500-iteration warm-up then linear decay,
# batch 16 = 8 GPUs x 2, 160k iterations, drop path 0.3; recipe in _base_/upernet_swinv2_ade20k.py,
# compared with the paper line by line in docs/recipes.md).
# Backbone: the paper's ablation pre-training, ImageNet-1K at 256 px with window 8,
# swinv2_base_patch4_window8_256 -> pretrained windows [8, 8, 8, 8]. The paper's system-level
# SwinV2-B (ImageNet-22K, 640x640, window 40) is upernet_swinv2_base_w40_ade20k_640.py.
_base_ = ['./_base_/upernet_swinv2_ade20k.py']

model = dict(
    backbone=dict(
        arch='base',
        window_size=16,
        pretrained_window_sizes=[8, 8, 8, 8],
        init_cfg=dict(checkpoint='https://github.com/SwinTransformer/storage/releases/'
                      'download/v2.0.0/swinv2_base_patch4_window8_256.pth')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
