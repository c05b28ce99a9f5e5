# SimMIM pre-training of SwinV2-L (197M) at 192 px, window 12, 800 epochs. No official SwinV2-L
# pre-training config was published (the SimMIM data-scaling release gives weights, not its
# settings); this is the SwinV2-B recipe (_base_/simmim_swinv2_192px.py) with L's width, as the
# official SimMIM Swin-L 800-epoch config keeps Swin-B's schedule and learning rate.
#
#   .venv/bin/python tools/train.py configs/simmim/simmim_swinv2_large_w12_192px_800e.py --amp \
#       --cfg-options train_dataloader.dataset.data_root=/path/to/images
_base_ = ['./_base_/simmim_swinv2_192px.py']
model = dict(backbone=dict(arch='large', window_size=12, drop_path_rate=0.1))
