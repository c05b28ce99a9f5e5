# SwinV2-L UperNet, ADE20K 512x512, window 16: NOT a paper setting. The paper ran SwinV2-L on
# ADE20K only at system level (640x640, window 40, batch 64, 40k iterations:
# upernet_swinv2_large_w40_ade20k_640.py); this is the T/S/B ablation recipe (AdamW 4e-5,
# wd 0.05, layer-wise lr decay 0.95, 160k iterations at batch 16; _base_/upernet_swinv2_ade20k.py)
# applied to L, for a smaller budget.
# ImageNet-22K -> 1K checkpoint (pre-trained at 192 px with window 12, last stage clipped
# to 6; fine-tuned at 256 px with window 16): pretrained windows [12, 12, 12, 6].
# The 12to24 (384 px) checkpoint has the same pretrained windows and loads too.
_base_ = ['./_base_/upernet_swinv2_ade20k.py']

model = dict(
    backbone=dict(
        arch='large',
        window_size=16,
        pretrained_window_sizes=[12, 12, 12, 6],
        init_cfg=dict(checkpoint='https://github.com/SwinTransformer/storage/releases/'
                      'download/v2.0.0/swinv2_large_patch4_window12to16_192to256_22kto1k_ft.pth')),
    decode_head=dict(in_channels=[192, 384, 768, 1536]),
    auxiliary_head=dict(in_channels=768))
