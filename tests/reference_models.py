"""Reference SwinV2 implementations with random weights, and those weights written in every
public checkpoint layout, exactly as the projects themselves would write them."""
import os.path as osp
import re
from typing import Dict, Sequence, Tuple

import torch
from safetensors.torch import save_file
from torch import Tensor

SMALL = dict(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))


def perturb_(model: torch.nn.Module, std: float = 0.1, seed: int = 0) -> torch.nn.Module:
    """Move every parameter away from its init (res-post-norm starts at zero, logit scale at
    log 10, biases at zero: an identity test on the init would prove little)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * std)
    return model.eval()


def timm_model(img_size: Tuple[int, int], window_size: int,
               pretrained_window_sizes: Sequence[int] = (0, 0, 0, 0), arch: dict = SMALL):
    from timm.models.swin_transformer_v2 import SwinTransformerV2
    model = SwinTransformerV2(
        img_size=img_size, embed_dim=arch['embed_dims'], depths=arch['depths'],
        num_heads=arch['num_heads'], window_size=window_size,
        pretrained_window_sizes=tuple(pretrained_window_sizes), num_classes=10)
    return perturb_(model)


def timm_stage_outputs(model, x: Tensor):
    """Per-stage NCHW outputs; the last one through timm's final norm."""
    with torch.no_grad():
        outs = model.forward_intermediates(x, intermediates_only=True)
        outs[-1] = model.norm(outs[-1].permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    return outs


def transformers_backbone(img_size: Tuple[int, int], window_size: int,
                          pretrained_window_sizes: Sequence[int] = (0, 0, 0, 0),
                          arch: dict = SMALL):
    from transformers import Swinv2Backbone, Swinv2Config
    config = Swinv2Config(
        image_size=list(img_size), embed_dim=arch['embed_dims'], depths=list(arch['depths']),
        num_heads=list(arch['num_heads']), window_size=window_size,
        pretrained_window_sizes=list(pretrained_window_sizes),
        out_features=['stage1', 'stage2', 'stage3', 'stage4'])
    return perturb_(Swinv2Backbone(config))


def transformers_stage_outputs(model, x: Tensor):
    with torch.no_grad():
        return list(model(x).feature_maps)


# --- writers: timm's weights in the other layouts --------------------------------------------
def timm_to_official(model) -> Dict[str, Tensor]:
    """The Microsoft layout: downsample at the end of a stage, buffers and shift masks kept."""
    out = {}
    for k, v in model.state_dict().items():
        k = re.sub(r'^layers\.(\d+)\.downsample\.',
                   lambda m: f'layers.{int(m.group(1)) - 1}.downsample.', k)
        out[k.replace('head.fc.', 'head.')] = v
    for name, module in model.named_modules():
        name = re.sub(r'^layers\.(\d+)', lambda m: f'layers.{m.group(1)}', name)
        if hasattr(module, 'relative_coords_table'):
            out[f'{name}.relative_coords_table'] = module.relative_coords_table
            out[f'{name}.relative_position_index'] = module.relative_position_index
        if getattr(module, 'attn_mask', None) is not None:
            out[f'{name}.attn_mask'] = module.attn_mask
    return out


def official_to_mmpretrain(official: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """mmpretrain: 'backbone.' prefix, merging at the start of a stage with nn.Unfold column
    order, attention under attn.w_msa, FFN as ffn.layers, final norm as norm3."""
    out = {}
    for k, v in official.items():
        if k.endswith('attn_mask'):
            continue
        if k.startswith('head.'):
            out[k.replace('head.', 'head.fc.')] = v
            continue
        k = k.replace('patch_embed.proj.', 'patch_embed.projection.')
        m = re.match(r'layers\.(\d+)\.downsample\.(.*)', k)
        if m:
            if m.group(2) == 'reduction.weight':  # (col, row, C) -> (C, row, col)
                o, four_c = v.shape
                v = v.reshape(o, 2, 2, four_c // 4).permute(0, 3, 2, 1).reshape(o, four_c)
            k = f'stages.{int(m.group(1)) + 1}.downsample.{m.group(2)}'
        k = re.sub(r'^layers\.', 'stages.', k)
        k = k.replace('.attn.', '.attn.w_msa.').replace('.mlp.fc1.', '.ffn.layers.0.0.')
        k = k.replace('.mlp.fc2.', '.ffn.layers.1.')
        k = re.sub(r'^norm\.', 'norm3.', k)
        out['backbone.' + k] = v
    return out


def save_all_formats(model, folder: str) -> Dict[str, str]:
    """timm's weights saved as timm (.pth, .safetensors), official and mmpretrain files."""
    official = timm_to_official(model)
    paths = {
        'timm_pth': osp.join(folder, 'timm.pth'),
        'timm_safetensors': osp.join(folder, 'timm.safetensors'),
        'official': osp.join(folder, 'swinv2_official.pth'),
        'mmpretrain': osp.join(folder, 'swinv2_mmpretrain.pth'),
    }
    torch.save(model.state_dict(), paths['timm_pth'])
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              paths['timm_safetensors'])
    torch.save({'model': official, 'epoch': 299, 'config': 'swinv2'}, paths['official'])
    torch.save({'state_dict': official_to_mmpretrain(official), 'meta': {'epoch': 300}},
               paths['mmpretrain'])
    return paths


# --- torchvision: its own SwinV2 (swin_v2_t/s/b are this class with the V2 block and merge) ---
def torchvision_model(window_size: int = 8, arch: dict = SMALL, num_classes: int = 10):
    from torchvision.models.swin_transformer import (PatchMergingV2, SwinTransformer,
                                                     SwinTransformerBlockV2)
    model = SwinTransformer(
        patch_size=[4, 4], embed_dim=arch['embed_dims'], depths=list(arch['depths']),
        num_heads=list(arch['num_heads']), window_size=[window_size] * 2,
        stochastic_depth_prob=0.0, num_classes=num_classes, block=SwinTransformerBlockV2,
        downsample_layer=PatchMergingV2)
    return perturb_(model)


def torchvision_stage_outputs(model, x: Tensor):
    """Per-stage NCHW outputs (features 1, 3, 5, 7); the last one through its final norm."""
    outs = []
    with torch.no_grad():
        for i, layer in enumerate(model.features):
            x = layer(x)
            if i % 2 == 1:
                outs.append(x)
        outs[-1] = model.norm(outs[-1])
    return [o.permute(0, 3, 1, 2) for o in outs]


# --- the SimMIM releases: the official layout with the older rpe_mlp name --------------------
def official_to_simmim(official: Dict[str, Tensor], embed_dims: int,
                       training_checkpoint: bool = True) -> Dict[str, Tensor]:
    """As Swin-Transformer's main_simmim_pt.py saves SimMIM: the encoder (with its mask token,
    cpb_mlp under its released name rpe_mlp, no position tables) under 'encoder.', the
    1x1-conv decoder under 'decoder.0.'. Without `training_checkpoint`: the encoder alone."""
    g = torch.Generator().manual_seed(1)
    encoder = {k.replace('.attn.cpb_mlp.', '.attn.rpe_mlp.'): v for k, v in official.items()
               if not k.endswith(('relative_coords_table', 'relative_position_index'))
               and not k.startswith('head.')}
    encoder['mask_token'] = torch.randn(1, 1, embed_dims, generator=g)
    if not training_checkpoint:
        return encoder
    out = {f'encoder.{k}': v for k, v in encoder.items()}
    num_features = embed_dims * 8
    out['decoder.0.weight'] = torch.randn(32 * 32 * 3, num_features, 1, 1, generator=g)
    out['decoder.0.bias'] = torch.randn(32 * 32 * 3, generator=g)
    return out
