# Optimizer parameter groups for the heads whose V1 Swin configs train the backbone at 0.1x
# the head's learning rate: Mask2Former (mmdet and mmseg) and DINO.
#
# Why not just add _base_/swinv2_no_decay.py to V1's {'backbone': dict(lr_mult=0.1)}:
# mmengine's DefaultOptimWrapperConstructor tries custom_keys longest first and applies only
# the first one that is a substring of a parameter's name. Next to 'backbone' (8 characters)
# the shared keys 'norm', 'cpb_mlp', 'q_bias' and 'v_bias' are shorter, so they never apply
# (weight decay on V2's CPB MLP, q/v biases and post-norms), and 'logit_scale' is longer, so
# it applies *instead* (the temperature trained at 1x, not 0.1x). The V1 configs spell their
# norms block by block ('backbone.stages.S.blocks.B.norm', and 'backbone.stages.S.downsample.
# norm' for S < 3, where V1 merges at the end of a stage; V2 merges at the start of stages
# 1-3) and name V1-only tables ('relative_position_bias_table', 'absolute_pos_embed').
#
# Here every key is longer than 'backbone', carries the backbone's lr_mult=0.1 and
# decay_mult=0, and matches - for any depth - exactly the backbone parameters that
# swinv2_no_decay.py keeps out of weight decay, and nothing in the heads.
# tests/test_heads.py checks the learning rate and decay of every parameter of every config's
# built optimizer against that rule.
_backbone_no_decay = dict(lr_mult=0.1, decay_mult=0.0)
swinv2_backbone_keys = {
    'backbone': dict(lr_mult=0.1, decay_mult=1.0),
    'backbone.patch_embed.norm': _backbone_no_decay,
    'backbone.norm': _backbone_no_decay,  # the output norms, norm0..norm3
    '.downsample.norm': _backbone_no_decay,  # patch merging, stages 1-3
    # the res-post-norms of every block (stages.S.blocks.B.norm1 / norm2)
    'norm1.weight': _backbone_no_decay,
    'norm1.bias': _backbone_no_decay,
    'norm2.weight': _backbone_no_decay,
    'norm2.bias': _backbone_no_decay,
    # V2's attention: temperature, continuous position-bias MLP, q and v biases
    'attn.logit_scale': _backbone_no_decay,
    'attn.cpb_mlp': _backbone_no_decay,
    'attn.q_bias': _backbone_no_decay,
    'attn.v_bias': _backbone_no_decay,
}
# Mask2Former (mmdet and mmseg V1 configs): the queries and level embeddings without decay at
# the head's rate; the head's norms lose decay through norm_decay_mult=0 (kept from V1).
_embed = dict(lr_mult=1.0, decay_mult=0.0)
swinv2_mask2former_keys = dict(swinv2_backbone_keys, query_embed=_embed, query_feat=_embed,
                               level_embed=_embed)
del _backbone_no_decay, _embed
