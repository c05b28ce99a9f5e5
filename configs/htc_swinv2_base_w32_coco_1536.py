# SwinV2-B HTC, COCO: the SwinV2 paper's system-level COCO setting (1536x1536, window 32,
# scale jitter [0.1, 2.0], AdamW 4e-4 at batch 64, wd 0.05, 3x, backbone lr 0.1x, soft-NMS),
# with mmdet's HTC without the semantic branch for the paper's HTC++ (what differs:
# _base_/htc_swinv2_coco_1536.py and docs/recipes.md). Backbone: ImageNet-22K, 192 px,
# window 12 (swinv2_base_patch4_window12_192_22k.pth) -> pretrained windows [12, 12, 12, 6].
# The paper tests with window 32 and 48: tools/test.py CONFIG CKPT --window 48.
_base_ = './_base_/htc_swinv2_coco_1536.py'
