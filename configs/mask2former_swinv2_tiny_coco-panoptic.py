# SwinV2-T Mask2Former, COCO panoptic: LSJ 1024x1024, 50 epochs (368,750 iterations at
# 8 GPUs x 2 images), AdamW 1e-4 / wd 0.05, backbone at 0.1x.
# Follows mmdet's mask2former/mask2former_swin-t-p4-w7-224_8xb2-lsj-50e_coco-panoptic.py
# (Swin-T: 53.4 PQ), which is its base; what differs for V2:
#   - backbone SwinTransformerV2-T from the ImageNet-1K 256 px window-16 checkpoint, window 16:
#     the 1024 crop's stage maps (256, 128, 64, 32 tokens a side) are whole multiples of it,
#     so no stage pads (V1's window 7 pads every stage); drop path 0.3 as V1;
#   - optimizer keys by V2's parameter names (_base_/swinv2_head_keys.py): the backbone at 0.1x
#     as V1, no decay on its norms, logit_scale, cpb_mlp and q/v biases.
# S/B/L: mask2former_swinv2_{small,base,large}_coco-panoptic.py; instance segmentation:
# mask2former_swinv2_*_coco.py. Which head for what: docs/heads.md.
_base_ = ['mmdet::mask2former/mask2former_swin-t-p4-w7-224_8xb2-lsj-50e_coco-panoptic.py',
          './_base_/swinv2_head_keys.py']
custom_imports = dict(imports=['swinv2_mm'], allow_failed_imports=False)

# The 1K checkpoint's last stage ran clipped to window 8 at 256 px: pretrained windows
# [16, 16, 16, 8] (the loader checks them against the checkpoint). Offline:
#   --cfg-options model.backbone.init_cfg.checkpoint=/local/swinv2_tiny_patch4_window16_256.pth
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

# V1's per-block keys replaced by keys that hold for V2 at any depth.
custom_keys = dict(_delete_=True, **_base_.swinv2_mask2former_keys)
optim_wrapper = dict(paramwise_cfg=dict(
    custom_keys=dict(_delete_=True, **_base_.swinv2_mask2former_keys), norm_decay_mult=0.0))
