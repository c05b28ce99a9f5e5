"""The implementations the benchmark runs side by side: this package and its peers, built for
one architecture, window and input size. Peers are imported only when asked for."""
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .errors import BenchmarkError

ARCHS = {
    'tiny': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
    'small': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
    'base': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
}
# Named input shapes (batch, height, width): a detection image and a segmentation batch.
SHAPES = {'det': (1, 800, 1344), 'seg': (2, 512, 512), 'small': (1, 256, 320)}
IMPLS = ('ours', 'ours-cp', 'ours-plain', 'timm', 'transformers', 'mmpretrain', 'torchvision')
PEERS = ('timm', 'transformers', 'mmpretrain', 'torchvision')
# The repository root, for the mmpretrain reference that tools/setup_env.sh keeps off the
# default path (.venv/reference).
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_shape(name: str) -> Tuple[int, int, int]:
    """'det' / 'seg' / 'small', 'BxHxW', or a single size N for one NxN image (the sweep)."""
    if name in SHAPES:
        return SHAPES[name]
    try:
        values = [int(v) for v in name.lower().split('x')]
    except ValueError:
        values = []
    if len(values) == 1:
        values = [1, values[0], values[0]]
    if len(values) != 3 or min(values) < 1:
        raise BenchmarkError(f'--shape {name!r}: use one of {sorted(SHAPES)}, BxHxW (e.g. '
                             '1x800x1344) or a square size N (e.g. 1024)')
    return tuple(values)


def build_timm(arch: dict, window: int, hw: Tuple[int, int]) -> nn.Module:
    from timm.models.swin_transformer_v2 import SwinTransformerV2
    model = SwinTransformerV2(img_size=hw, embed_dim=arch['embed_dims'], depths=arch['depths'],
                              num_heads=arch['num_heads'], window_size=window, num_classes=0,
                              drop_path_rate=0.0)

    class TimmStages(nn.Module):
        """The four stage maps (NCHW), as the dense-prediction backbones return them."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return tuple(self.m.forward_intermediates(x, intermediates_only=True))
    return TimmStages(model)


def build_transformers(arch: dict, window: int, hw: Tuple[int, int]) -> nn.Module:
    from transformers import Swinv2Backbone, Swinv2Config
    config = Swinv2Config(image_size=list(hw), embed_dim=arch['embed_dims'],
                          depths=list(arch['depths']), num_heads=list(arch['num_heads']),
                          window_size=window, drop_path_rate=0.0,
                          out_features=['stage1', 'stage2', 'stage3', 'stage4'])

    class HFStages(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return tuple(self.m(x).feature_maps)
    return HFStages(Swinv2Backbone(config))


def import_mmpretrain_backbone():
    """mmpretrain 1.2.0 (a reference only: tools/setup_env.sh installs it in .venv/reference,
    off the default path, because mmdet probes for it). Its package imports its multimodal
    models, which need an older transformers; mmpretrain's own WITH_MULTIMODAL flag switches
    them off, and the SwinV2 backbone needs none of them."""
    for reference in (os.path.join(ROOT, '.venv', 'reference'),
                      os.path.join(sys.prefix, 'reference')):
        if os.path.isdir(reference) and reference not in sys.path:
            sys.path.append(reference)
    import mmpretrain.utils.dependency as dependency
    dependency.WITH_MULTIMODAL = False
    from mmpretrain.models.backbones import SwinTransformerV2
    return SwinTransformerV2


def build_mmpretrain(arch: dict, window: int, hw: Tuple[int, int]) -> nn.Module:
    cls = import_mmpretrain_backbone()
    model = cls(arch=dict(embed_dims=arch['embed_dims'], depths=list(arch['depths']),
                          num_heads=list(arch['num_heads']), extra_norm_every_n_blocks=0),
                img_size=hw, window_size=window, out_indices=(0, 1, 2, 3), drop_path_rate=0.0)
    model.init_weights()
    return model


def build_torchvision(arch: dict, window: int, hw: Tuple[int, int]) -> nn.Module:
    """torchvision's SwinV2 (swin_v2_t/s/b are this class with the V2 block and merging);
    it takes any input size, so `hw` is not needed."""
    from torchvision.models.swin_transformer import (PatchMergingV2, SwinTransformer,
                                                     SwinTransformerBlockV2)
    model = SwinTransformer(patch_size=[4, 4], embed_dim=arch['embed_dims'],
                            depths=list(arch['depths']), num_heads=list(arch['num_heads']),
                            window_size=[window, window], stochastic_depth_prob=0.0,
                            num_classes=1000, block=SwinTransformerBlockV2,
                            downsample_layer=PatchMergingV2)

    class TorchvisionStages(nn.Module):
        """The four stage maps (features 1, 3, 5, 7), NCHW."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            outs = []
            for i, layer in enumerate(self.m.features):
                x = layer(x)
                if i % 2 == 1:
                    outs.append(x.permute(0, 3, 1, 2))
            return tuple(outs)
    return TorchvisionStages(model)


def build_ours(arch: dict, window: int, hw: Tuple[int, int], with_cp: bool = False,
               fused: bool = True, weights: Optional[str] = None) -> nn.Module:
    from swinv2_mm import SwinTransformerV2
    init_cfg = dict(type='Pretrained', checkpoint=weights) if weights else None
    model = SwinTransformerV2(arch=dict(arch), window_size=window, drop_path_rate=0.0,
                              with_cp=with_cp, fused_attention=fused, init_cfg=init_cfg)
    model.init_weights()
    return model


def build(impl: str, arch: dict, window: int, hw: Tuple[int, int],
          weights: Optional[str] = None) -> nn.Module:
    if impl == 'timm':
        return build_timm(arch, window, hw)
    if impl == 'transformers':
        return build_transformers(arch, window, hw)
    if impl == 'mmpretrain':
        return build_mmpretrain(arch, window, hw)
    if impl == 'torchvision':
        return build_torchvision(arch, window, hw)
    return build_ours(arch, window, hw, with_cp=impl == 'ours-cp', fused=impl != 'ours-plain',
                      weights=weights)


def timm_weights_file(arch: dict, window: int, hw: Tuple[int, int], folder: str) -> str:
    """timm's initialised weights written to a file, which `ours` loads through init_cfg (so
    timm and ours run the same weights; the other peers keep their own initialisation,
    which does not change their speed)."""
    torch.manual_seed(0)
    model = build_timm(arch, window, hw).m
    path = os.path.join(folder, 'timm_weights.pth')
    torch.save(model.state_dict(), path)
    return path


def reason(e: BaseException) -> str:
    return f'{type(e).__name__}: {(str(e).splitlines() or [""])[0][:160]}'


def available_impls(names: Sequence[str]) -> Tuple[List[str], Dict[str, str]]:
    """The implementations that import here, and why the others do not."""
    ok, skipped = [], {}
    for name in names:
        try:
            if name == 'timm':
                import timm.models.swin_transformer_v2  # noqa: F401
            elif name == 'transformers':
                from transformers import Swinv2Backbone  # noqa: F401
            elif name == 'mmpretrain':
                import_mmpretrain_backbone()
            elif name == 'torchvision':
                from torchvision.models.swin_transformer import SwinTransformerBlockV2  # noqa
            ok.append(name)
        except Exception as e:  # the reason goes into the report
            skipped[name] = f'not importable: {reason(e)}'
    return ok, skipped
