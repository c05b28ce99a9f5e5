"""The embedded SimMIM demo (tools/demo_simmim.py), a user's path end to end on a CPU:

1. pre-train the detection demo's small SwinV2 with SimMIM on generated unlabeled images
   (configs/simmim/simmim_swinv2_demo_synthetic.py, the real mmengine Runner);
2. measure the SimMIM loss on held-out images (the detection demo's val split, never seen in
   pre-training) at initialisation and after, and draw their reconstructions;
3. fine-tune the detection demo (Cascade Mask R-CNN, CocoMetric on the held-out split) twice
   with the same short schedule: backbone from the SimMIM checkpoint
   (init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')) and from scratch.
"""
import argparse
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

import numpy as np

from .demo import TASKS, run_demo
from .launch import prepare_train_config, run_train

CONFIG = 'configs/simmim/simmim_swinv2_demo_synthetic.py'
UNLABELED_ROOT = 'data/synthetic_unlabeled'
WORK_DIR = 'work_dirs/demo_simmim'
OUT_DIR = 'outputs/demo_simmim'
FINETUNE_ITERS = 100  # the detection demo's schedule cut to a third: where pre-training can show


def generate_unlabeled(root: str = UNLABELED_ROOT, num_images: int = 1000,
                       seed: int = 1000) -> str:
    """Unlabeled images of the detection demo's kind (its generator, another seed: none is a
    held-out image); written once. Returns the image folder."""
    from ..demo.coco_shapes import generate_stamped
    generate_stamped(root, dict(num_images=num_images, seed=seed, image_size=160),
                     {'images': (num_images, seed)}, image_size=160)  # labels unused
    return osp.join(root, 'images')


def _loss_curve(losses: np.ndarray, points: int = 10) -> List[Dict[str, float]]:
    """Mean loss over `points` equal stretches of training, at each stretch's last iteration."""
    bounds = np.linspace(0, len(losses), points + 1).round().astype(int)
    return [dict(iter=int(b), loss=round(float(losses[a:b].mean()), 4))
            for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def pretrain(iters: Optional[int], unlabeled: str, held_out: List[str]) -> dict:
    """Run SimMIM pre-training; the loss curve, held-out losses and pictures."""
    import torch
    from mmengine.registry import MODELS
    from ..selfsup.data import SimMIMMaskGenerator
    from ..selfsup.visualize import draw_reconstructions, held_out_loss
    options: Dict[str, object] = {'train_dataloader.dataset.data_root': unlabeled}
    if iters is not None:
        options['train_cfg.max_iters'] = iters
        options['default_hooks.checkpoint.interval'] = iters
    cfg = prepare_train_config(CONFIG, work_dir=WORK_DIR, cfg_options=options)
    # the config's own mask generator, with fixed masks, for the held-out images
    masking = next(dict(t) for t in cfg.train_dataloader.dataset.pipeline
                   if t['type'] == 'SimMIMMaskGenerator')
    masking.pop('type')
    generator = SimMIMMaskGenerator(**masking)
    size = generator.input_size
    pictures = held_out[:6]

    # The model as the Runner will start it (same seed), to measure where training starts.
    torch.manual_seed(cfg.randomness.seed)
    initial = MODELS.build(cfg.model)
    initial.init_weights()
    before = held_out_loss(initial, held_out, size, generator)
    baseline = held_out_loss(initial, held_out, size, generator, baseline=True)
    drawn_before = draw_reconstructions(initial, pictures, osp.join(OUT_DIR,
                                        'reconstructions_init.png'), size, generator)
    del initial

    start = time.time()
    runner = run_train(cfg)
    seconds = time.time() - start
    losses = np.asarray(runner.message_hub.get_scalar('train/loss').data[0], dtype=float)
    checkpoint = osp.join(WORK_DIR, f'iter_{runner.iter}.pth')
    model = runner.model
    after = held_out_loss(model, held_out, size, generator)
    picture = osp.join(OUT_DIR, 'reconstructions.png')
    drawn = draw_reconstructions(model, pictures, picture, size, generator)
    first, last = losses[:20].mean(), losses[-20:].mean()
    return dict(
        config=CONFIG, iterations=int(runner.iter), batch_size=int(cfg.train_dataloader.batch_size),
        unlabeled_images=len(runner.train_dataloader.dataset), seconds=round(seconds, 1),
        loss_first_20=round(float(first), 4), loss_last_20=round(float(last), 4),
        loss_curve=_loss_curve(losses),
        held_out=dict(images=len(held_out), loss_init=round(before, 4),
                      loss_trained=round(after, 4), loss_visible_mean=round(baseline, 4),
                      picture_masked_mae_rgb_init=round(drawn_before['masked_mae_rgb'], 2),
                      picture_masked_mae_rgb_trained=round(drawn['masked_mae_rgb'], 2)),
        checkpoint=checkpoint, picture=picture,
        picture_init=osp.join(OUT_DIR, 'reconstructions_init.png'))


def _ap(metrics: Dict[str, float]) -> Dict[str, float]:
    return {k: round(float(metrics[f'coco/{k}']), 3)
            for k in ('bbox_mAP_50', 'segm_mAP_50', 'bbox_mAP', 'segm_mAP')}


def finetune(checkpoint: str, iters: int, threads: int) -> dict:
    """The detection demo from the SimMIM backbone and from scratch, same schedule."""
    task = TASKS['detection']
    init = dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
    out = dict(iterations=iters, init_cfg=init)
    # _delete_: the demo config's init_cfg is None, which a dict cannot be merged into
    pretrained = {'model.backbone.init_cfg': dict(init, _delete_=True)}
    for name, options in (('pretrained', pretrained), ('scratch', {})):
        start = time.time()
        metrics = run_demo(task, iters, threads, train_options=options,
                           tag=f'demo_simmim_det_{name}')
        out[name] = dict(_ap(metrics), seconds=round(time.time() - start, 1))
    return out


def write_record(path: str, record: dict) -> None:
    from ..records.store import write_record as write
    write(path, record)
    print(f'[demo-simmim] metrics: {path}')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description='SimMIM demo: pre-train a small SwinV2 on unlabeled images, draw '
        'reconstructions of held-out images, then fine-tune the detection demo from it and '
        'from scratch')
    parser.add_argument('--pretrain-iters', type=int, default=None,
                        help=f"SimMIM iterations (default: the config's, {CONFIG})")
    parser.add_argument('--finetune-iters', type=int, default=FINETUNE_ITERS,
                        help='detection iterations of each fine-tuning run (default: '
                        '%(default)s)')
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    parser.add_argument('--metrics-out', default=osp.join(OUT_DIR, 'metrics.json'),
                        metavar='FILE.json', help='where the metrics file goes (default: '
                        '%(default)s)')
    args = parser.parse_args(argv)
    for name in ('pretrain_iters', 'finetune_iters', 'threads'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    os.environ.setdefault('PYTHONHASHSEED', '0')
    import torch
    torch.set_num_threads(args.threads)
    start = time.time()

    det = TASKS['detection']
    det.generate(det.data_root)
    unlabeled = generate_unlabeled()
    from ..selfsup.visualize import image_paths
    held_out = image_paths(osp.join(det.data_root, 'val'))
    print(f'[demo-simmim] {len(image_paths(unlabeled))} unlabeled images in {unlabeled}; '
          f'{len(held_out)} held-out images (the detection demo\'s val split)')

    pre = pretrain(args.pretrain_iters, unlabeled, held_out)
    curve = ', '.join(f'{p["iter"]}: {p["loss"]:.3f}' for p in pre['loss_curve'])
    print(f'[demo-simmim] pre-trained {pre["iterations"]} iterations in {pre["seconds"]:.0f} s;'
          f' loss (mean of each tenth of training) {curve}')
    held = pre['held_out']
    print(f'[demo-simmim] held-out SimMIM loss: {held["loss_init"]:.3f} at initialisation -> '
          f'{held["loss_trained"]:.3f} pre-trained (every masked pixel as the mean of the '
          f'visible ones: {held["loss_visible_mean"]:.3f})')
    print(f'[demo-simmim] reconstructions (input | masked | reconstruction | visible + '
          f'reconstructed): {pre["picture"]} (at initialisation: {pre["picture_init"]})')

    fine = finetune(pre['checkpoint'], args.finetune_iters, args.threads)
    for name in ('pretrained', 'scratch'):
        m = fine[name]
        print(f'[demo-simmim] detection, {fine["iterations"]} iterations, backbone '
              f'{"from SimMIM" if name == "pretrained" else "from scratch"}: bbox AP50 '
              f'{m["bbox_mAP_50"]:.3f}, segm AP50 {m["segm_mAP_50"]:.3f} (AP {m["bbox_mAP"]:.3f}'
              f' / {m["segm_mAP"]:.3f})')
    gain = fine['pretrained']['bbox_mAP_50'] - fine['scratch']['bbox_mAP_50']
    print(f'[demo-simmim] held-out bbox AP50, SimMIM minus scratch: {gain:+.3f}')

    learnt = pre['loss_last_20'] < pre['loss_first_20'] and \
        held['loss_trained'] < min(held['loss_init'], held['loss_visible_mean'])
    from ..records.store import machine
    record = dict(
        demo='simmim', complete=True, command=[osp.relpath(sys.executable),
                                               'tools/demo_simmim.py'] + list(
            sys.argv[1:] if argv is None else argv),
        threads=torch.get_num_threads(), passed=bool(learnt),
        target='the SimMIM loss falls (training and held-out, below the visible-mean '
               'baseline); both AP50s reported',
        pretrain=pre, finetune=fine, seconds=dict(wall_s=round(time.time() - start, 1)),
        load_average_end=list(os.getloadavg()), machine=machine(),
        finished_utc=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()))
    write_record(args.metrics_out, record)
    print(f'[demo-simmim] {"PASS" if learnt else "FAIL"}: the SimMIM loss '
          f'{"fell" if learnt else "did NOT fall"} (training, and held-out below the '
          f'visible-mean baseline); total {time.time() - start:.0f} s')
    return 0 if learnt else 1
