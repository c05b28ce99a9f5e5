"""Side-by-side speed and memory of SwinV2 backbones (tools/benchmark.py is its command line).

    models.py   the implementations: ours and the peers (timm, transformers, mmpretrain,
                torchvision)
    flops.py    FLOPs by formula, and FlopCounterMode on timm's model as its check
    measure.py  one timed step, the GEMM reference, peak memory in a fresh process
    matrix.py   every implementation of one configuration, interleaved; ratios and shares
    sweep.py    the resolution sweep, one fresh process per case
    report.py   the Markdown tables, the issues' targets, the plot
    record.py   the JSON record: where it goes, the machine, written whole or not at all
    cli.py      the arguments and the run

Not imported by `import swinv2_mm`: a user of the backbone never pays for it.
"""
from .cli import main
from .flops import counted_flops, swinv2_flops
from .matrix import COMPILED, add_ratios, apply_shares
from .models import ARCHS, SHAPES
from .report import targets

__all__ = ['main', 'swinv2_flops', 'counted_flops', 'COMPILED', 'add_ratios', 'apply_shares',
           'ARCHS', 'SHAPES', 'targets']
