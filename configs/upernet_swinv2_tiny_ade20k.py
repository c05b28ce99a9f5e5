# SwinV2-T UperNet, ADE20K: the SwinV2 paper's ADE20K ablation setting (512x512, window 16,
# AdamW 4e-5, wd 0.05, layer-wise lr decay 0.95, 1500-iteration warm-up then linear decay,
# batch 16 = 8 GPUs x 2, 160k iterations, drop path 0.3; recipe in _base_/upernet_swinv2_ade20k.py,
# compared with the paper line by line in docs/recipes.md).
# The paper's ablation backbones are ImageNet-1K models pre-trained at 256 px with window 8:
# swinv2_tiny_patch4_window8_256 (every stage ran window 8) -> pretrained windows [8, 8, 8, 8].
# (The window-16 checkpoint, 82.8 vs 81.8 top-1, also loads: --cfg-options
#  model.backbone.init_cfg.checkpoint=<...>/swinv2_tiny_patch4_window16_256.pth
#  model.backbone.pretrained_window_sizes=[16,16,16,8] -- not the paper's setting.)
_base_ = ['./_base_/upernet_swinv2_ade20k.py']

model = dict(
    backbone=dict(
        arch='tiny',
        window_size=16,
        pretrained_window_sizes=[8, 8, 8, 8],
        init_cfg=dict(checkpoint='https://github.com/SwinTransformer/storage/releases/'
                      'download/v2.0.0/swinv2_tiny_patch4_window8_256.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
