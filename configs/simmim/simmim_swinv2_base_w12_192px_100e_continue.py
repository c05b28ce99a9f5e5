# Continue SimMIM pre-training of SwinV2-B on your own images for 100 epochs, starting from a
# public checkpoint instead of from scratch: the released SimMIM SwinV2-B (ImageNet-22K,
# 500k iterations; zdaxie/SimMIM, "On Data Scaling in Masked Image Modeling") with its mask
# token (and its decoder, where the file has one). Then fine-tune the detector or segmentor
# from the result (docs/simmim.md).
#
#   .venv/bin/python tools/train.py configs/simmim/simmim_swinv2_base_w12_192px_100e_continue.py \
#       --amp --cfg-options train_dataloader.dataset.data_root=/path/to/your/images
#
# Other starting points (model.init_cfg.checkpoint takes any SwinV2 checkpoint, file, URL or
# name from docs/model_zoo.md; the decoder and mask token start from their initialisation
# where the file has none), e.g. the official ImageNet-22K classifier at 192 px:
#   --cfg-options model.init_cfg.checkpoint=swinv2_base_patch4_window12_192_22k \
#       model.backbone.pretrained_window_sizes=[12,12,12,6]
#
# The schedule is this package's choice, not a published recipe: the 800-epoch recipe's
# learning rate (1e-4 per 512 images), 10 warm-up epochs and a cosine decay to 1e-5 per 512
# (the shape of SimMIM's 100-epoch schedule).
_base_ = ['./_base_/simmim_swinv2_192px.py']
# The SimMIM release records no position-bias windows; window 12 with the window in use (0) is
# the official SimMIM SwinV2 pre-training setting (its last stage ran at 6 at 192 px).
model = dict(
    backbone=dict(arch='base', window_size=12, pretrained_window_sizes=0, drop_path_rate=0.1),
    init_cfg=dict(type='Pretrained', checkpoint='swinv2_base_22k_500k'))

data_root = 'data/my_images/'
train_dataloader = dict(dataset=dict(data_root=data_root))

max_epochs = 100
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=5e-7 / 1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    # eta_min_ratio: the floor follows the learning rate when auto_scale_lr rescales it
    dict(type='CosineAnnealingLR', T_max=max_epochs - 10, eta_min_ratio=1e-5 / 1e-4,
         by_epoch=True, begin=10, end=max_epochs, convert_to_iter_based=True),
]
