"""Run mmpretrain's own SwinTransformerV2 (the reference) in a process of its own.

    python tests/mmpretrain_reference.py OUT_DIR H W WINDOW P0 P1 P2 P3

writes OUT_DIR/mmpretrain.pth (its perturbed weights, as mmpretrain saves them), input.pt and
outputs.pt. mmpretrain 1.2.0 lives in .venv/reference, off the default path (see
tools/setup_env.sh); its multimodal models, which need an older transformers, are switched off
with mmpretrain's own WITH_MULTIMODAL flag. A subprocess keeps it out of the test session.
"""
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, '.venv', 'reference'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(out_dir, h, w, window, *pretrained):
    import mmpretrain.utils.dependency as dependency
    dependency.WITH_MULTIMODAL = False
    from mmpretrain.models.backbones import SwinTransformerV2

    from reference_models import SMALL, perturb_
    torch.manual_seed(0)
    model = SwinTransformerV2(
        arch=dict(embed_dims=SMALL['embed_dims'], depths=list(SMALL['depths']),
                  num_heads=list(SMALL['num_heads']), extra_norm_every_n_blocks=0),
        img_size=(int(h), int(w)), window_size=int(window),
        pretrained_window_sizes=[int(p) for p in pretrained], out_indices=(0, 1, 2, 3),
        drop_path_rate=0.0)
    model.init_weights()
    perturb_(model)
    x = torch.randn(2, 3, int(h), int(w))
    with torch.no_grad():
        outs = model(x)
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in model.state_dict().items()},
                'meta': {'mmpretrain_version': '1.2.0'}}, os.path.join(out_dir, 'mmpretrain.pth'))
    torch.save(x, os.path.join(out_dir, 'input.pt'))
    torch.save(list(outs), os.path.join(out_dir, 'outputs.pt'))


if __name__ == '__main__':
    main(*sys.argv[1:])
