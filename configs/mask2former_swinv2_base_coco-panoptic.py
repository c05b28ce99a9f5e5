# SwinV2-B Mask2Former, COCO panoptic: LSJ 1024, 50 epochs, 8 GPUs x 2 images.
# Follows mmdet's mask2former/mask2former_swin-b-p4-w12-384-in21k_8xb2-lsj-50e_coco-panoptic.py
# (Swin-B, ImageNet-22K: 56.3 PQ; 55.1 from ImageNet-1K), i.e. the Swin-T recipe
# (mask2former_swinv2_tiny_coco-panoptic.py, V2 changes listed there) with a wider backbone
# from a 384 px ImageNet-22K checkpoint. For V2:
#   - ImageNet-22K (192 px, window 12) -> 1K at 384 px, window 24: pretrained windows
#     [12, 12, 12, 6] (the 22K stage's, last stage clipped to 6; the loader checks them);
#   - window 32, the SwinV2 paper's COCO window: it tiles the 1024 crop's stage maps (256,
#     128, 64, 32 tokens; the last stage is one window). V1 used 12 (the checkpoint's).
_base_ = ['./mask2former_swinv2_tiny_coco-panoptic.py']

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_base_patch4_window12to24_192to384_22kto1k_ft.pth'  # noqa
model = dict(
    backbone=dict(
        arch='base',
        window_size=32,
        pretrained_window_sizes=[12, 12, 12, 6],
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    panoptic_head=dict(in_channels=[128, 256, 512, 1024]))
