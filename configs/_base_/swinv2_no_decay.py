# Parameters the official SwinV2 code keeps out of weight decay: the LayerNorms, the attention
# temperature (logit_scale), the continuous position-bias MLP and the q/v biases. Keys match
# substrings of parameter names (backbone.patch_embed.norm, ...downsample.norm,
# ...blocks.B.norm1/norm2, backbone.norm{i}, ...attn.logit_scale, ...attn.cpb_mlp.*,
# ...attn.q_bias/v_bias). mmcv's ConvModule names its norms 'bn'/'gn', so the detection and
# segmentation heads keep their decay. Use: paramwise_cfg=dict(custom_keys={{_base_.swinv2_no_decay}})
swinv2_no_decay = {
    'norm': dict(decay_mult=0.0),
    'logit_scale': dict(decay_mult=0.0),
    'cpb_mlp': dict(decay_mult=0.0),
    'q_bias': dict(decay_mult=0.0),
    'v_bias': dict(decay_mult=0.0),
    'mask_token': dict(decay_mult=0.0),  # SimMIM's (official no_weight_decay); detectors have none
}
