"""Every public SwinV2 checkpoint by name: where each copy of its weights lives, and the arch,
window and `pretrained_window_sizes` that go with it.

One row (`Weights`) per set of weights; a set has copies in several layouts (the official
GitHub release, the `microsoft/` Hugging Face repos, timm's Hub repos, mmpretrain's files)
and every name of every copy selects it:

    swinv2_base_patch4_window12to16_192to256_22kto1k_ft[.pth]    official file name
    https://github.com/SwinTransformer/storage/releases/...     any known URL
    microsoft/swinv2-base-patch4-window12to16-192to256-22kto1k-ft (or hf-hub:...)
    swinv2_base_window12to16_192to256.ms_in22k_ft_in1k           timm (with or without tag,
                                                                  timm/..., old aliases)
    swinv2-base-w16_in21k-pre_3rdparty_in1k-256px                mmpretrain
    torchvision://swin_v2_t[.default|.imagenet1k_v1], swin_v2_t  torchvision
    swinv2_base_22k_500k, finetune_swinv2_base_22k_500k          SimMIM (zdaxie/SimMIM)

`locate` turns a name (or a path / URL / `hf-hub:` id) into a local file, offline first:
the torch hub cache for URLs, the Hugging Face cache for Hub files, downloading only when
neither has it (and never when HF_HUB_OFFLINE is set).

`pretrained_window_sizes` here are the windows each stage's position bias was trained with
(clipping included: a 256-pixel window-16 model ran its last stage at 8), i.e. what a config
must set to transfer the bias to any window. Published top-1 is ImageNet-1K, as published by
the source of the weights.
"""
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlparse

from .io import (USE_LOCAL_INIT_CFG, CheckpointError, download_to_cache, hub_file,
                 hub_model_file, torchvision_url)

GITHUB = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/'
OPENMMLAB = 'https://download.openmmlab.com/mmclassification/v0/swin-v2/'
TORCHVISION = 'https://download.pytorch.org/models/'
SIMMIM_REPO = 'zdaxie/SimMIM'

# The architectures by the size names the releases use (embed_dims, depths, num_heads are
# SwinTransformerV2.arch_zoo's).
SIZES = {'tiny': 'T', 'small': 'S', 'base': 'B', 'large': 'L', 'huge': 'H', 'giant': 'g'}


@dataclass(frozen=True)
class Copy:
    """One file holding a set of weights, in one layout."""
    layout: str  # official, simmim, timm, transformers, mmpretrain, torchvision
    names: Tuple[str, ...]  # every name that selects this copy; the first is its own
    url: str = ''  # an http(s) file
    hub: Tuple[str, ...] = ()  # (repo_id,) for a Hub model repo, (repo_id, filename) for a file
    top1: Optional[float] = None  # when its publisher measured it again (mmpretrain)


@dataclass(frozen=True)
class Weights:
    """One set of public weights and how to configure the backbone for it."""
    name: str
    source: str  # who trained it: official, torchvision, simmim
    arch: str
    window_size: Optional[int]  # the window it was trained with (None: not published)
    pretrained_window_sizes: Optional[Tuple[int, ...]]  # its position-bias windows, per stage
    img_size: Optional[int]
    num_classes: int  # 0: no classifier (a SimMIM pre-training checkpoint)
    top1: Optional[float]  # ImageNet-1K top-1 as published (SimMIM: of the fine-tuned model)
    copies: Tuple[Copy, ...] = field(default=())
    note: str = ''

    def backbone_cfg(self, name: Optional[str] = None) -> dict:
        """The backbone config lines that go with these weights."""
        cfg = dict(type='SwinTransformerV2', arch=self.arch)
        if self.window_size:
            cfg['window_size'] = self.window_size
        if self.pretrained_window_sizes:
            cfg['pretrained_window_sizes'] = list(self.pretrained_window_sizes)
        cfg['init_cfg'] = dict(type='Pretrained', checkpoint=name or self.name)
        return cfg


def _official(size: str, window: str, img: str, pretrained: Tuple[int, ...], top1: Optional[float],
              timm: str, timm_tag: str, mm: Tuple[str, str, float], deprecated: str = '',
              classes: int = 1000) -> Weights:
    """A Microsoft release and its copies (transformers, timm, mmpretrain)."""
    stem = f'swinv2_{size}_patch4_window{window}_{img}'
    if classes != 1000:
        stem += '_22k'
    elif 'to' in window:
        stem += '_22kto1k_ft'
    hf = 'microsoft/' + stem.replace('_', '-')
    timm_full = f'{timm}.{timm_tag}'
    mm_name, mm_file, mm_top1 = mm
    copies = (
        Copy('official', (stem, stem + '.pth', GITHUB + stem + '.pth'), url=GITHUB + stem + '.pth'),
        Copy('transformers', (hf, 'hf-hub:' + hf), hub=(hf,)),
        Copy('timm', tuple(n for n in (timm_full, timm, 'timm/' + timm_full, 'hf-hub:timm/' +
                                       timm_full, deprecated) if n), hub=('timm/' + timm_full,)),
        Copy('mmpretrain', (mm_name, osp.basename(mm_file), OPENMMLAB + mm_file),
             url=OPENMMLAB + mm_file, top1=mm_top1),
    )
    final_window = int(window.split('to')[-1])
    return Weights(stem, 'official', size, final_window, pretrained, int(img.split('to')[-1]),
                   classes, top1, copies)


_W8, _W16, _W12 = (8, 8, 8, 8), (16, 16, 16, 8), (12, 12, 12, 6)
OFFICIAL = [
    _official('tiny', '8', '256', _W8, 81.8, 'swinv2_tiny_window8_256', 'ms_in1k',
              ('swinv2-tiny-w8_3rdparty_in1k-256px',
               'swinv2-tiny-w8_3rdparty_in1k-256px_20220803-e318968f.pth', 81.76)),
    _official('tiny', '16', '256', _W16, 82.8, 'swinv2_tiny_window16_256', 'ms_in1k',
              ('swinv2-tiny-w16_3rdparty_in1k-256px',
               'swinv2-tiny-w16_3rdparty_in1k-256px_20220803-9651cdd7.pth', 82.81)),
    _official('small', '8', '256', _W8, 83.7, 'swinv2_small_window8_256', 'ms_in1k',
              ('swinv2-small-w8_3rdparty_in1k-256px',
               'swinv2-small-w8_3rdparty_in1k-256px_20220803-b01a4332.pth', 83.74)),
    _official('small', '16', '256', _W16, 84.1, 'swinv2_small_window16_256', 'ms_in1k',
              ('swinv2-small-w16_3rdparty_in1k-256px',
               'swinv2-small-w16_3rdparty_in1k-256px_20220803-b707d206.pth', 84.13)),
    _official('base', '8', '256', _W8, 84.2, 'swinv2_base_window8_256', 'ms_in1k',
              ('swinv2-base-w8_3rdparty_in1k-256px',
               'swinv2-base-w8_3rdparty_in1k-256px_20220803-8ff28f2b.pth', 84.2)),
    _official('base', '16', '256', _W16, 84.6, 'swinv2_base_window16_256', 'ms_in1k',
              ('swinv2-base-w16_3rdparty_in1k-256px',
               'swinv2-base-w16_3rdparty_in1k-256px_20220803-5a1886b7.pth', 84.6)),
    _official('base', '12', '192', _W12, None, 'swinv2_base_window12_192', 'ms_in22k',
              ('swinv2-base-w12_3rdparty_in21k-192px',
               'pretrain/swinv2-base-w12_3rdparty_in21k-192px_20220803-f7dc9763.pth', None),
              deprecated='swinv2_base_window12_192_22k', classes=21841),
    _official('base', '12to16', '192to256', _W12, 86.2, 'swinv2_base_window12to16_192to256',
              'ms_in22k_ft_in1k',
              ('swinv2-base-w16_in21k-pre_3rdparty_in1k-256px',
               'swinv2-base-w16_in21k-pre_3rdparty_in1k-256px_20220803-8d7aa8ad.pth', 86.17),
              deprecated='swinv2_base_window12to16_192to256_22kft1k'),
    _official('base', '12to24', '192to384', _W12, 87.1, 'swinv2_base_window12to24_192to384',
              'ms_in22k_ft_in1k',
              ('swinv2-base-w24_in21k-pre_3rdparty_in1k-384px',
               'swinv2-base-w24_in21k-pre_3rdparty_in1k-384px_20220803-44eb70f8.pth', 87.14),
              deprecated='swinv2_base_window12to24_192to384_22kft1k'),
    _official('large', '12', '192', _W12, None, 'swinv2_large_window12_192', 'ms_in22k',
              ('swinv2-large-w12_3rdparty_in21k-192px',
               'pretrain/swinv2-large-w12_3rdparty_in21k-192px_20220803-d9073fee.pth', None),
              deprecated='swinv2_large_window12_192_22k', classes=21841),
    _official('large', '12to16', '192to256', _W12, 86.9, 'swinv2_large_window12to16_192to256',
              'ms_in22k_ft_in1k',
              ('swinv2-large-w16_in21k-pre_3rdparty_in1k-256px',
               'swinv2-large-w16_in21k-pre_3rdparty_in1k-256px_20220803-c40cbed7.pth', 86.93),
              deprecated='swinv2_large_window12to16_192to256_22kft1k'),
    _official('large', '12to24', '192to384', _W12, 87.6, 'swinv2_large_window12to24_192to384',
              'ms_in22k_ft_in1k',
              ('swinv2-large-w24_in21k-pre_3rdparty_in1k-384px',
               'swinv2-large-w24_in21k-pre_3rdparty_in1k-384px_20220803-3b36c165.pth', 87.59),
              deprecated='swinv2_large_window12to24_192to384_22kft1k'),
]


def _torchvision(short: str, size: str, file: str, top1: float) -> Weights:
    name = f'swin_v2_{short}'
    names = tuple(f'torchvision://{name}{tag}' for tag in ('', '.default', '.imagenet1k_v1'))
    return Weights(name, 'torchvision', size, 8, _W8, 256, 1000, top1,
                   (Copy('torchvision', (name, file) + names, url=TORCHVISION + file),),
                   note='trained by torchvision (its own recipe)')


TORCHVISION_WEIGHTS = [
    _torchvision('t', 'tiny', 'swin_v2_t-b137f0e2.pth', 82.072),
    _torchvision('s', 'small', 'swin_v2_s-637d8ceb.pth', 83.712),
    _torchvision('b', 'base', 'swin_v2_b-781e5279.pth', 84.112),
]

# SimMIM "On Data Scaling in Masked Image Modeling" (arXiv 2206.04664), Swin-Transformer
# MODELHUB.md: fine-tuned ImageNet-1K top-1 per (data, 125k / 250k / 500k iterations).
_SIMMIM_TOP1 = {
    'small': {'1kper10': (82.69, 83.11, 83.17), '1kper20': (83.05, 83.56, 83.75),
              '1kper50': (83.04, 83.67, 83.96), '1k': (82.92, 83.66, 84.08)},
    'base': {'1kper10': (83.33, 83.60, 83.41), '1kper20': (83.86, 84.37, 84.61),
             '1kper50': (84.04, 84.57, 84.95), '1k': (84.13, 84.65, 85.04),
             '22k': (84.11, 84.57, 85.11)},
    'large': {'1kper10': (83.69, 83.66, 83.50), '1kper20': (84.38, 84.71, 84.59),
              '1kper50': (84.78, 85.38, 85.80), '1k': (84.98, 85.45, 85.91),
              '22k': (84.61, 85.39, 85.81)},
    'huge': {'1kper20': (84.35, 84.16, 83.44), '1kper50': (85.09, 85.64, 85.69),
             '1k': (85.23, 85.90, 86.34), '22k': (85.14, 85.86, 86.27)},
    'giant': {'1kper50': (85.44, 85.76, 85.51), '1k': (85.57, 86.12, 86.46),
              '22k': (85.39, 85.96, 86.53)},
}
SIMMIM_NOTE = ('SimMIM data-scaling release: window and position-bias windows are neither '
               'published nor recorded in the file; set them as you pre-trained/fine-tune')


def _simmim() -> List[Weights]:
    out = []
    for size, by_data in _SIMMIM_TOP1.items():
        for data, accs in by_data.items():
            for iters, top1 in zip(('125k', '250k', '500k'), accs):
                for finetuned in (False, True):
                    name = f'{"finetune_" if finetuned else ""}swinv2_{size}_{data}_{iters}'
                    folder = ('simmim_swinv2_finetune_models' if finetuned
                              else 'simmim_swinv2_pretrain_models')
                    url = f'https://huggingface.co/{SIMMIM_REPO}/resolve/main/{folder}/{name}.pth'
                    copy = Copy('simmim', (name, name + '.pth', url),
                                hub=(SIMMIM_REPO, f'{folder}/{name}.pth'))
                    out.append(Weights(name, 'simmim', size, None, None, None,
                                       1000 if finetuned else 0, top1, (copy,),
                                       note=SIMMIM_NOTE))
    return out


ZOO: List[Weights] = OFFICIAL + TORCHVISION_WEIGHTS + _simmim()
_BY_NAME: Dict[str, Tuple[Weights, Copy]] = {
    n: (w, c) for w in ZOO for c in w.copies for n in c.names}


def lookup(name: str) -> Optional[Tuple[Weights, Copy]]:
    """The weights (and the copy) a name selects, or None."""
    name = str(name)
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.startswith(('http://', 'https://')):  # a URL: its file name, query dropped
        base = osp.basename(urlparse(name).path)
        return _BY_NAME.get(base) or _BY_NAME.get(osp.splitext(base)[0])
    return None


def identify_file(path: str) -> Optional[Weights]:
    """The weights a local file is, by its released file name (None if not a known name)."""
    base = osp.basename(str(path).rstrip('/'))
    hit = _BY_NAME.get(base)
    return hit[0] if hit and base.endswith('.pth') else None


@dataclass
class Located:
    path: str  # a local file or folder
    weights: Optional[Weights] = None  # when the source is a known checkpoint


_HUB_ID = re.compile(r'^[\w.-]+/[\w.-]+$')


def locate(source: str, use_local: str = USE_LOCAL_INIT_CFG) -> Located:
    """A local file for `source` (path, URL, known name or `hf-hub:` id), offline first.
    `use_local`: what a download error tells the user to do with a local copy."""
    source = str(source)
    if osp.exists(osp.expanduser(source)):
        return Located(osp.expanduser(source), identify_file(source))
    weights, copy = lookup(source) or (None, None)
    if source.startswith('torchvision://'):
        return Located(download_to_cache(torchvision_url(source), use_local), weights)
    if source.startswith(('http://', 'https://')):
        return Located(download_to_cache(source, use_local), weights)
    if copy is not None:
        if len(copy.hub) == 2:
            return Located(hub_file(*copy.hub, use_local), weights)
        if copy.hub:
            return Located(hub_model_file(copy.hub[0], use_local), weights)
        return Located(download_to_cache(copy.url, use_local), weights)
    if source.startswith('hf-hub:') and _HUB_ID.match(source[len('hf-hub:'):]):
        return Located(hub_model_file(source[len('hf-hub:'):], use_local), None)
    if _HUB_ID.match(source) and not osp.splitext(source)[1]:
        raise CheckpointError(
            f'{source}: no such file, and not a known SwinV2 checkpoint name; for a Hugging '
            f'Face Hub repository write hf-hub:{source} (known names: docs/model_zoo.md)')
    raise CheckpointError(f'checkpoint file not found: {source} (neither a file nor a known '
                          'SwinV2 checkpoint name; known names: docs/model_zoo.md)')


def expected_windows(weights: Optional[Weights]) -> Dict[int, int]:
    """Per stage, the position-bias window the named weights were trained with ({} if the
    release does not say)."""
    if weights is None or not weights.pretrained_window_sizes:
        return {}
    return dict(enumerate(weights.pretrained_window_sizes))


def config_line(weights: Weights) -> str:
    """The backbone arguments that go with the weights, as a config writes them."""
    cfg = weights.backbone_cfg()
    return ', '.join(f'{k}={v!r}' for k, v in cfg.items() if k not in ('type', 'init_cfg'))


def markdown_table() -> str:
    """docs/model_zoo.md's tables, generated from ZOO (tests/test_weights.py keeps them equal)."""
    def also(w: Weights) -> str:
        names = []
        for c in w.copies[1:] if w.source == 'official' else w.copies:
            name = c.names[0] if w.source == 'official' else c.names[2]
            top1 = f' (top-1 {c.top1} as mmpretrain measured it)' if c.top1 else ''
            names.append(f'{c.layout}: `{name}`{top1}')
        return '<br>'.join(names)

    lines = ['| weights | also named | arch | image | classes | top-1 | backbone config |',
             '|---|---|---|---:|---:|---:|---|']
    for w in OFFICIAL + TORCHVISION_WEIGHTS:
        lines.append(f'| `{w.name}` | {also(w)} | {w.arch} | {w.img_size} | {w.num_classes} '
                     f'| {w.top1 or "-"} | `{config_line(w)}` |')
    lines += ['', '| SimMIM pre-trained / fine-tuned (`zdaxie/SimMIM`) | arch | data '
              '| iterations | fine-tuned top-1 |', '|---|---|---|---:|---:|']
    for w in ZOO:
        if w.source == 'simmim' and not w.name.startswith('finetune_'):
            _, size, data, iters = w.name.split('_')
            lines.append(f'| `{w.name}` / `finetune_{w.name}` | {w.arch} | {data} | {iters} '
                         f'| {w.top1} |')
    return '\n'.join(lines)


if __name__ == '__main__':
    print(markdown_table())
