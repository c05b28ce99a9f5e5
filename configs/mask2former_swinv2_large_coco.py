# SwinV2-L Mask2Former, COCO instance segmentation: LSJ 1024, 100 epochs (737,500 iterations
# at 16 GPUs x 1 image), 200 queries.
# mmdet has no Swin-L instance config: this is mask2former_swinv2_base_coco.py with the
# backbone, queries and schedule that mmdet's Swin-L panoptic config
# (mask2former_swin-l-p4-w12-384-in21k_16xb1-lsj-100e_coco-panoptic.py) gives its Swin-B one,
# as mask2former_swinv2_large_coco-panoptic.py does.
_base_ = ['./mask2former_swinv2_base_coco.py']

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_large_patch4_window12to24_192to384_22kto1k_ft.pth'  # noqa
model = dict(
    backbone=dict(arch='large', init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    panoptic_head=dict(num_queries=200, in_channels=[192, 384, 768, 1536]))

train_dataloader = dict(batch_size=1, num_workers=1)
max_iters = 737500
param_scheduler = dict(end=max_iters, milestones=[655556, 710184])
interval = 5000
dynamic_intervals = [(max_iters // interval * interval + 1, max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=interval,
                 dynamic_intervals=dynamic_intervals)
