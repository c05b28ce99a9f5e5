# SwinV2-L DINO, 5 scales, COCO detection: 12 epochs at 8 GPUs x 2 images, multi-scale
# 480-800 / 1333 with the random-crop branch, AdamW 1e-4 / wd 1e-4, backbone at 0.1x.
# Follows mmdet's dino/dino-5scale_swin-l_8xb2-12e_coco.py (Swin-L, ImageNet-22K 384 px:
# 57.2 box AP), which is its base; what differs for V2:
#   - backbone SwinTransformerV2-L from the ImageNet-22K (192 px, window 12) -> 1K 384 px
#     checkpoint, window 24 (the window it was fine-tuned with at 384 px) from pretrained
#     windows [12, 12, 12, 6] (the loader checks them); drop path 0.2 and gradient
#     checkpointing (with_cp) as V1;
#   - optimizer keys by V2's parameter names (_base_/swinv2_head_keys.py): V1 trains the
#     backbone at 0.1x and decays everything; here the backbone's norms, logit_scale, cpb_mlp
#     and q/v biases are not decayed, as the official SwinV2 code does; the head as V1.
# T/S/B: dino_swinv2_{tiny,small,base}_coco_12e.py; 36 epochs: dino_swinv2_*_coco_36e.py.
_base_ = ['mmdet::dino/dino-5scale_swin-l_8xb2-12e_coco.py', './_base_/swinv2_head_keys.py']
custom_imports = dict(imports=['swinv2_mm'], allow_failed_imports=False)

# Offline: --cfg-options model.backbone.init_cfg.checkpoint=/local/swinv2_large_...pth
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_large_patch4_window12to24_192to384_22kto1k_ft.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformerV2',
        arch='large',
        window_size=24,
        pretrained_window_sizes=[12, 12, 12, 6],
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        with_cp=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[192, 384, 768, 1536]))

optim_wrapper = dict(paramwise_cfg=dict(
    custom_keys=dict(_delete_=True, **_base_.swinv2_backbone_keys)))
