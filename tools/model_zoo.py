#!/usr/bin/env python
"""The public SwinV2 checkpoints this package knows by name, and the config that goes with one.

    .venv/bin/python tools/model_zoo.py                       # the tables of docs/model_zoo.md
    .venv/bin/python tools/model_zoo.py swin_v2_t             # the backbone config for a name

A name is any form docs/model_zoo.md lists: an official file name, a microsoft/ Hub id, a
timm name, an mmpretrain name, torchvision://swin_v2_t, a SimMIM file name.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('name', nargs='?', help='a checkpoint name (default: list them all)')
    from swinv2_mm.engine.cli import pop_debug, run_guarded
    argv, debug = pop_debug(None)
    args = parser.parse_args(argv)

    def body():
        from swinv2_mm.checkpoint.zoo import lookup, markdown_table
        from swinv2_mm.engine.errors import ToolError
        if not args.name:
            print(markdown_table())
            return
        hit = lookup(args.name)
        if hit is None:
            raise ToolError(f'{args.name}: not a known SwinV2 checkpoint name (run without '
                            'arguments for the list)')
        weights, copy = hit
        whose = 'of its fine-tuned model ' if weights.source == 'simmim' and \
            not weights.num_classes else ''
        print(f'# {weights.name} ({copy.layout} copy); ImageNet-1K top-1 {whose}as published: '
              f'{weights.top1 or "-"}; {weights.num_classes or "no"} classes'
              + (f'; {weights.note}' if weights.note else ''))
        cfg = weights.backbone_cfg(args.name)
        init = cfg.pop('init_cfg')
        args_text = ', '.join(f'{k}={v!r}' for k, v in cfg.items())
        print(f'backbone=dict({args_text},\n'
              f"              init_cfg=dict(type='Pretrained', checkpoint={init['checkpoint']!r}))")
    return run_guarded(body, debug)


if __name__ == '__main__':
    sys.exit(main())
