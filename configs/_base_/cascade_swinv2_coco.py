# Cascade Mask R-CNN with a Swin Transformer V2 backbone on COCO: the SwinV2 paper's COCO
# ablation setting (arXiv 2111.09883, appendix "Experimental Settings", SwinV2-T/S/B): Cascade
# Mask R-CNN in mmdetection, multi-scale training with shorter side 480-800 and longer side
# 1333 (the DETR / Sparse R-CNN augmentation, with its random-crop branch), window 16, AdamW
# lr 1e-4 / wd 0.05, batch 16, 3x schedule; the heads as the Swin papers' (4conv1fc box heads
# with GIoU). The model-size configs (cascade_swinv2_{tiny,small,base,large}_coco.py) set the
# backbone arch, windows, drop path, pretrained checkpoint and the FPN's input channels.
# docs/recipes.md compares it with the paper line by line.
_base_ = [
    'mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    './swinv2_no_decay.py',
]
# Registers SwinTransformerV2 in mmengine's root registry, which mmdet's looks up.
custom_imports = dict(imports=['swinv2_mm'], allow_failed_imports=False)

# SyncBN as in the Swin detection configs; mmengine reverts it to BN for single-process runs.
head_norm_cfg = dict(type='SyncBN', requires_grad=True)


def _bbox_head(target_stds):
    # 4 shared convs + 1 fc ("4conv1fc"), regressing decoded boxes with GIoU (Swin papers).
    return dict(
        type='Shared4Conv1FCBBoxHead',
        in_channels=256,
        conv_out_channels=256,
        fc_out_channels=1024,
        roi_feat_size=7,
        num_classes=80,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0., 0., 0., 0.],
            target_stds=target_stds),
        reg_class_agnostic=False,
        reg_decoded_bbox=True,
        norm_cfg=head_norm_cfg,
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=10.0))


model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformerV2',
        arch='tiny',
        window_size=16,
        pretrained_window_sizes=[8, 8, 8, 8],
        mlp_ratio=4,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        with_cp=False),  # init_cfg (the pretrained checkpoint): set by each size config
    neck=dict(in_channels=[96, 192, 384, 768]),
    roi_head=dict(bbox_head=[
        _bbox_head([0.1, 0.1, 0.2, 0.2]),
        _bbox_head([0.05, 0.05, 0.1, 0.1]),
        _bbox_head([0.033, 0.033, 0.067, 0.067]),
    ]))
# Functions cannot be dumped with the config (work_dir/<config>.py); drop it after use.
del _bbox_head

# Multi-scale training with a random-crop branch (DETR / Sparse R-CNN augmentation, as the
# Swin papers): either resize the short side to 480..800, or resize to 400..600, crop
# 384..600 and resize to 480..800.
_multi_scale = [(480, 1333), (512, 1333), (544, 1333), (576, 1333), (608, 1333),
                (640, 1333), (672, 1333), (704, 1333), (736, 1333), (768, 1333),
                (800, 1333)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='AutoAugment',
        policies=[
            [dict(type='RandomChoiceResize', scales=_multi_scale, keep_ratio=True)],
            [
                dict(type='RandomChoiceResize',
                     scales=[(400, 1333), (500, 1333), (600, 1333)],
                     keep_ratio=True),
                dict(type='RandomCrop',
                     crop_type='absolute_range',
                     crop_size=(384, 600),
                     allow_negative_crop=True),
                dict(type='RandomChoiceResize', scales=_multi_scale, keep_ratio=True),
            ],
        ]),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# 3x schedule: 36 epochs, lr x0.1 at epochs 27 and 33, 1000 iterations of linear warm-up.
max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33],
         gamma=0.1),
]

# AdamW lr 1e-4, weight decay 0.05 (for 16 images per iteration: 8 GPUs x 2). No decay on
# the backbone's norms nor on V2's attention temperature, CPB meta network and q/v biases, as
# the official SwinV2 code (_base_/swinv2_no_decay.py).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={{_base_.swinv2_no_decay}}))
auto_scale_lr = dict(enable=False, base_batch_size=16)
