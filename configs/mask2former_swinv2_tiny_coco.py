# SwinV2-T Mask2Former, COCO instance segmentation: LSJ 1024, 50 epochs (368,750 iterations
# at 8 GPUs x 2 images), AdamW 1e-4 / wd 0.05, backbone at 0.1x.
# Follows mmdet's mask2former/mask2former_swin-t-p4-w7-224_8xb2-lsj-50e_coco.py (Swin-T:
# 47.7 box / 44.7 mask AP), which is its base; the V2 changes are those of the panoptic
# config (mask2former_swinv2_tiny_coco-panoptic.py): SwinTransformerV2-T from the 1K window-16
# checkpoint at window 16 (tiles the 1024 crop), optimizer keys by V2's parameter names.
_base_ = ['mmdet::mask2former/mask2former_swin-t-p4-w7-224_8xb2-lsj-50e_coco.py',
          './_base_/swinv2_head_keys.py']
custom_imports = dict(imports=['swinv2_mm'], allow_failed_imports=False)

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_tiny_patch4_window16_256.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformerV2',
        arch='tiny',
        window_size=16,
        pretrained_window_sizes=[16, 16, 16, 8],
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        frozen_stages=-1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    panoptic_head=dict(in_channels=[96, 192, 384, 768]))

custom_keys = dict(_delete_=True, **_base_.swinv2_mask2former_keys)
optim_wrapper = dict(paramwise_cfg=dict(
    custom_keys=dict(_delete_=True, **_base_.swinv2_mask2former_keys), norm_decay_mult=0.0))
