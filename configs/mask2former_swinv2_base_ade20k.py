# SwinV2-B Mask2Former, ADE20K: 640x640 crops, 160k iterations at 8 GPUs x 2 images, AdamW
# 1e-4 / wd 0.05, poly decay, backbone at 0.1x.
# Follows mmseg's mask2former/mask2former_swin-b-in22k-384x384-pre_8xb2-160k_ade20k-640x640.py
# (Swin-B, ImageNet-22K: 53.90 mIoU; 52.44 from 1K), which is its base; what differs for V2:
#   - backbone SwinTransformerV2-B from the ImageNet-22K (192 px, window 12) -> 1K 384 px
#     checkpoint: pretrained windows [12, 12, 12, 6] (the loader checks them);
#   - window 40, the SwinV2 paper's ADE20K window at 640: it tiles the crop's stage maps
#     (160, 80, 40 tokens a side; the last stage, 20, is one window). V1 used 12;
#   - optimizer keys by V2's parameter names (_base_/swinv2_head_keys.py).
_base_ = ['mmseg::mask2former/mask2former_swin-b-in22k-384x384-pre_8xb2-160k_ade20k-640x640.py',
          './_base_/swinv2_head_keys.py']
custom_imports = dict(imports=['mmdet.models', 'swinv2_mm'], allow_failed_imports=False)

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_base_patch4_window12to24_192to384_22kto1k_ft.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformerV2',
        arch='base',
        window_size=40,
        pretrained_window_sizes=[12, 12, 12, 6],
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        frozen_stages=-1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[128, 256, 512, 1024]))

custom_keys = dict(_delete_=True, **_base_.swinv2_mask2former_keys)
optim_wrapper = dict(paramwise_cfg=dict(
    custom_keys=dict(_delete_=True, **_base_.swinv2_mask2former_keys), norm_decay_mult=0.0))
