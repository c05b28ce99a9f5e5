#!/usr/bin/env python
"""Compare this backbone with the official SwinV2 code at a released size, on the same weights.

    .venv/bin/python tools/compare_official.py --official Swin-Transformer/models/swin_transformer_v2.py \
        --arch huge --size 192 --window 12 --json record.json

builds the official `SwinTransformerV2` (from microsoft/Swin-Transformer, which you check out
yourself: it is not a dependency) with the arch's sizes, moves its weights away from their
init, maps its state dict with this package's checkpoint loader into a `SwinTransformerV2`
of the same `arch`, and prints the largest difference per stage (float32). Memory: two
copies of the model (SwinV2-giant: about 8.5 GB).
"""
import argparse
import importlib.util
import json
import os.path as osp
import platform
import sys
import time
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout
warnings.filterwarnings('ignore')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--official', required=True,
                        help="the official code's models/swin_transformer_v2.py")
    parser.add_argument('--arch', default='huge', help='an arch name of SwinTransformerV2')
    parser.add_argument('--size', type=int, default=192)
    parser.add_argument('--window', type=int, default=12)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--json', help='append the result to this JSON list')
    from swinv2_mm.engine.cli import pop_debug, run_guarded
    argv, debug = pop_debug(None)
    args = parser.parse_args(argv)

    def body():
        import torch
        import torch.nn.functional as F
        from swinv2_mm import SwinTransformerV2
        from swinv2_mm.checkpoint.formats import convert
        from swinv2_mm.checkpoint.io import RawCheckpoint
        from swinv2_mm.checkpoint.loader import load_converted
        from swinv2_mm.engine.errors import ToolError
        if not osp.isfile(args.official):
            raise ToolError(f'--official {args.official}: no such file (the official '
                            'repository\'s models/swin_transformer_v2.py)')
        spec = importlib.util.spec_from_file_location('official_swinv2', args.official)
        official_module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(official_module)
        arch = SwinTransformerV2.arch_zoo[args.arch]
        torch.manual_seed(0)
        t0 = time.time()
        official = official_module.SwinTransformerV2(
            img_size=args.size, embed_dim=arch['embed_dims'], depths=list(arch['depths']),
            num_heads=list(arch['num_heads']), window_size=args.window, num_classes=1000,
            drop_path_rate=0.0).eval()
        with torch.no_grad():  # away from the init (res-post-norm starts every block at 0)
            for p in official.parameters():
                p.add_(torch.randn_like(p) * 0.02)
        stages = []
        for layer in official.layers:  # a stage's output: its last block's, before merging
            layer.blocks[-1].register_forward_hook(lambda m, i, o: stages.append(o))
        x = torch.randn(args.batch, 3, args.size, args.size)
        with torch.no_grad():
            official.forward_features(x)
        hw = [args.size // 4 // 2**i for i in range(len(stages))]
        refs = [s.reshape(args.batch, h, h, -1) for s, h in zip(stages, hw)]
        refs[-1] = official.norm(refs[-1])
        refs[:-1] = [F.layer_norm(r, r.shape[-1:]) for r in refs[:-1]]
        build_s = time.time() - t0
        raw = RawCheckpoint(dict(official.state_dict()), f'official {args.arch}')
        conv = convert(raw)
        # The official model clips the window to a smaller map, and its position bias was
        # normalised with that window: the pretrained windows to configure.
        pretrained = [min(args.window, h) for h in hw]
        ours = SwinTransformerV2(arch=args.arch, window_size=args.window, drop_path_rate=0.0,
                                 pretrained_window_sizes=pretrained)
        load_converted(ours, raw, conv, logger='silent')
        del official, raw, conv
        with torch.no_grad():
            outs = ours.eval()(x)
        errors = [(o.permute(0, 2, 3, 1) - r).abs().max().item() for o, r in zip(outs, refs)]
        record = dict(arch=args.arch, embed_dims=arch['embed_dims'], depths=arch['depths'],
                      num_heads=arch['num_heads'],
                      params=sum(p.numel() for p in ours.parameters()), size=args.size,
                      window=args.window, pretrained_window_sizes=pretrained, batch=args.batch,
                      dtype='float32',
                      max_abs_diff_per_stage=errors, official_code=osp.abspath(args.official),
                      torch=torch.__version__, python=platform.python_version(),
                      seconds=round(time.time() - t0, 1), official_build_and_run_s=round(build_s, 1))
        print(json.dumps(record))
        if args.json:
            records = []
            if osp.exists(args.json):
                with open(args.json, encoding='utf-8') as f:
                    records = json.load(f)
            records.append(record)
            with open(args.json + '.tmp', 'w', encoding='utf-8') as f:
                json.dump(records, f, indent=1)
            import os
            os.replace(args.json + '.tmp', args.json)
        if max(errors) >= 1e-4:
            raise ToolError(f'{args.arch}: largest difference {max(errors):.3g} >= 1e-4')
    return run_guarded(body, debug)


if __name__ == '__main__':
    sys.exit(main())
