# SimMIM pre-training of SwinV2-B (87M) at 192 px, window 12, 800 epochs: the official recipe
# (microsoft/Swin-Transformer configs/simmim/simmim_pretrain__swinv2_base__img192_window12__
# 800ep.yaml): drop path 0.1, normalised target (47x47), AdamW 1e-4 · batch / 512, wd 0.05,
# 10 warm-up epochs, x0.1 at 700, clip 5, AMP (--amp on a GPU). The recipe itself is
# _base_/simmim_swinv2_192px.py.
#
#   .venv/bin/python tools/train.py configs/simmim/simmim_swinv2_base_w12_192px_800e.py --amp \
#       --cfg-options train_dataloader.dataset.data_root=/path/to/images
#
# Fine-tune from the result (docs/simmim.md): backbone init_cfg=dict(type='Pretrained',
# checkpoint='work_dirs/.../epoch_800.pth', prefix='backbone.') with
# pretrained_window_sizes=[12, 12, 12, 6] (the last stage ran at 6 at 192 px).
_base_ = ['./_base_/simmim_swinv2_192px.py']
model = dict(backbone=dict(arch='base', window_size=12, drop_path_rate=0.1))
