# The embedded demo: a small SwinV2 + the same Cascade Mask R-CNN head family as the COCO
# configs (4conv1fc GIoU box heads, FCN mask head, 3 cascade stages), trained from scratch on
# the generated coloured-shapes dataset (swinv2_mm/demo/coco_shapes.py) within minutes on a
# 2-core CPU. tools/demo_detection.py generates the data and runs this config.
_base_ = '../_base_/cascade_swinv2_coco.py'

data_root = 'data/synthetic_coco/'
classes = ('disc', 'square', 'triangle')
num_classes = len(classes)
image_size = 160  # swinv2_mm/demo/coco_shapes.py's default

# Plain BN in the heads: SyncBN needs GPUs, and the demo also runs distributed on CPU.
head_norm_cfg = dict(type='BN', requires_grad=True)


def _bbox_head(target_stds):
    return dict(
        type='Shared4Conv1FCBBoxHead',
        in_channels=64,
        conv_out_channels=32,  # COCO: 256 / 1024; the shapes need far less
        fc_out_channels=128,
        roi_feat_size=7,
        num_classes=num_classes,
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                        target_stds=target_stds),
        reg_class_agnostic=False,
        reg_decoded_bbox=True,
        norm_cfg=head_norm_cfg,
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=10.0))


def _rcnn_train(iou):
    # Fewer sampled RoIs than COCO's 512: images hold 1-4 objects.
    return dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=iou, neg_iou_thr=iou,
                      min_pos_iou=iou, match_low_quality=False, ignore_iof_thr=-1),
        sampler=dict(type='RandomSampler', num=32, pos_fraction=0.25, neg_pos_ub=-1,
                     add_gt_as_proposals=True),
        mask_size=28, pos_weight=-1, debug=False)


model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformerV2',
        arch=dict(embed_dims=32, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8]),
        window_size=8,
        pretrained_window_sizes=0,  # trained from scratch: normalise by the window in use
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=[
            _bbox_head([0.1, 0.1, 0.2, 0.2]),
            _bbox_head([0.05, 0.05, 0.1, 0.1]),
            _bbox_head([0.033, 0.033, 0.067, 0.067]),
        ],
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(in_channels=64, conv_out_channels=32, num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=500, max_per_img=100),
        rcnn=[_rcnn_train(0.5), _rcnn_train(0.6), _rcnn_train(0.7)]),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(max_per_img=20)))
del _bbox_head, _rcnn_train

metainfo = dict(classes=classes,
                palette=[(220, 50, 50), (50, 190, 60), (60, 80, 230)])
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    # the images are generated at this size: a no-op that records scale_factor for the heads
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
# num_workers=0: on 2 cores a loader process would only compete with the model for CPU.
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json',
                     metric=['bbox', 'segm'], classwise=True)
test_evaluator = val_evaluator

# Iteration-based: the budget is wall time, so the schedule is counted in iterations.
max_iters = 300
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.8)], gamma=0.1),
]
# From scratch on a tiny dataset: a larger learning rate than fine-tuning's 1e-4.
optim_wrapper = dict(optimizer=dict(lr=1e-3), clip_grad=dict(max_norm=10.0))
auto_scale_lr = dict(enable=False, base_batch_size=4)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1))
log_processor = dict(by_epoch=False, window_size=20)
randomness = dict(seed=0)
