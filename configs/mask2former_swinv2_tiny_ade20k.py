# SwinV2-T Mask2Former, ADE20K semantic segmentation: 512x512 crops, 160k iterations at
# 8 GPUs x 2 images, AdamW 1e-4 / wd 0.05, poly decay, backbone at 0.1x.
# Follows mmseg's mask2former/mask2former_swin-t_8xb2-160k_ade20k-512x512.py (Swin-T: 48.66
# mIoU), which is its base; what differs for V2:
#   - backbone SwinTransformerV2-T from the ImageNet-1K 256 px window-16 checkpoint, window 16:
#     the 512 crop's stage maps (128, 64, 32, 16 tokens a side) are whole multiples of it, so
#     no stage pads and the last stage is one window (V1's window 7 pads every stage);
#   - optimizer keys by V2's parameter names (_base_/swinv2_head_keys.py): the backbone at 0.1x
#     as V1, no decay on its norms, logit_scale, cpb_mlp and q/v biases.
# S: mask2former_swinv2_small_ade20k.py; B/L at 640: mask2former_swinv2_{base,large}_ade20k.py.
_base_ = ['mmseg::mask2former/mask2former_swin-t_8xb2-160k_ade20k-512x512.py',
          './_base_/swinv2_head_keys.py']
# mmseg's Mask2Former head is mmdet's (V1 imports mmdet.models too).
custom_imports = dict(imports=['mmdet.models', 'swinv2_mm'], allow_failed_imports=False)

# The 1K checkpoint's last stage ran clipped to window 8 at 256 px: pretrained windows
# [16, 16, 16, 8]. Offline:
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
    decode_head=dict(in_channels=[96, 192, 384, 768]))

custom_keys = dict(_delete_=True, **_base_.swinv2_mask2former_keys)
optim_wrapper = dict(paramwise_cfg=dict(
    custom_keys=dict(_delete_=True, **_base_.swinv2_mask2former_keys), norm_decay_mult=0.0))
