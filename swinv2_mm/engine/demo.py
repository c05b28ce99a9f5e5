"""The embedded demos (tools/demo.sh): generate a small dataset, train a small SwinV2 model on
it, evaluate the held-out split, draw the predictions.

The path is a user's: tools/train.py's and tools/test.py's functions, the real mmengine Runner,
mmdet's Cascade Mask R-CNN with CocoMetric, mmseg's UperNet with IoUMetric.
"""
import argparse
import glob
import numbers
import os
import os.path as osp
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from .launch import prepare_test_config, prepare_train_config, run_test, run_train


@dataclass
class DemoTask:
    name: str                 # 'detection' / 'segmentation': work_dirs/demo_<name>, outputs/...
    config: str
    generate: Callable[[str], object]  # writes the dataset under data_root (idempotent)
    data_root: str
    options: Callable[[str], Dict[str, object]]  # cfg options that point the config at the data
    passed: Callable[[Dict[str, float]], bool]  # what "visibly learnt" means, held-out split
    summary: Callable[[Dict[str, float]], str]


def _coco_options(root: str) -> Dict[str, object]:
    ann = osp.join(root, 'annotations/instances_val.json')
    return {'train_dataloader.dataset.data_root': root, 'val_dataloader.dataset.data_root': root,
            'test_dataloader.dataset.data_root': root, 'val_evaluator.ann_file': ann,
            'test_evaluator.ann_file': ann}


def _ade_options(root: str) -> Dict[str, object]:
    root = osp.join(root, 'ADEChallengeData2016')
    return {f'{loader}.dataset.data_root': root
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')}


def _generate_coco(root: str):
    from ..demo.coco_shapes import generate
    return generate(root)


def _generate_ade(root: str):
    from ..demo.ade_shapes import generate
    return generate(root)


def _coco_summary(m: Dict[str, float]) -> str:
    return '\n'.join(f'[demo] {kind} AP {m[f"coco/{kind}_mAP"]:.3f}  '
                     f'AP50 {m[f"coco/{kind}_mAP_50"]:.3f}  AP75 {m[f"coco/{kind}_mAP_75"]:.3f}'
                     for kind in ('bbox', 'segm'))


# Targets on the held-out split: AP50 >= 0.5 for boxes and masks; mIoU >= 0.5 (IoUMetric
# reports percent).
TASKS = {
    'detection': DemoTask(
        'detection', 'configs/demo/cascade_swinv2_demo_synthetic.py', _generate_coco,
        'data/synthetic_coco/', _coco_options,
        passed=lambda m: all(m[f'coco/{k}_mAP_50'] >= 0.5 for k in ('bbox', 'segm')),
        summary=_coco_summary),
    'segmentation': DemoTask(
        'segmentation', 'configs/demo/upernet_swinv2_demo_synthetic.py', _generate_ade,
        'data/synthetic_ade', _ade_options,
        passed=lambda m: m['mIoU'] / 100.0 >= 0.5,
        summary=lambda m: f'[demo] aAcc {m["aAcc"]:.2f}  mIoU {m["mIoU"]:.2f}  '
                          f'mAcc {m["mAcc"]:.2f}  (percent; per-class table above)'),
}
TARGETS = {'detection': 'bbox and segm AP50 >= 0.5', 'segmentation': 'mIoU >= 0.5'}
# Mask2Former on the segmentation demo's data, same metric and target (docs/heads.md;
# tools/demo_mask2former.py, `bash tools/demo.sh mask2former`, not part of "all").
TASKS['mask2former'] = DemoTask(
    'mask2former', 'configs/demo/mask2former_swinv2_demo_synthetic.py', _generate_ade,
    'data/synthetic_ade', _ade_options, passed=TASKS['segmentation'].passed,
    summary=TASKS['segmentation'].summary)
TARGETS['mask2former'] = TARGETS['segmentation']


def run_demo(task: DemoTask, max_iters: Optional[int] = None, threads: Optional[int] = None,
             train_options: Optional[Dict[str, object]] = None, tag: Optional[str] = None
             ) -> Dict[str, float]:
    """Generate, train on the train split, test on the held-out split; returns the metrics.

    train_options: more cfg options for training only (e.g. the backbone's init_cfg);
    tag: names work_dirs/<tag> and outputs/<tag> (default demo_<name>)."""
    import torch
    if threads:
        torch.set_num_threads(threads)
    tag = tag or f'demo_{task.name}'
    work_dir = f'work_dirs/{tag}'
    show_dir = osp.abspath(f'outputs/{tag}')
    start = time.time()
    task.generate(task.data_root)
    print(f'[demo] {task.name} dataset in {task.data_root} ({time.time() - start:.1f} s)')

    options = task.options(task.data_root)
    # Evaluated once, below, by the test: the train loop would also validate at its last
    # iteration whatever val_interval says; val_begin past the end stops that.
    train_options = dict(options, **{'train_cfg.val_begin': 10**9}, **(train_options or {}))
    if max_iters is not None:
        train_options['train_cfg.max_iters'] = max_iters
        train_options['default_hooks.checkpoint.interval'] = max_iters
    runner = run_train(prepare_train_config(task.config, work_dir=work_dir,
                                            cfg_options=train_options))
    trained = time.time()
    checkpoint = osp.join(work_dir, f'iter_{runner.iter}.pth')
    print(f'[demo] trained {runner.iter} iterations in {trained - start:.0f} s -> {checkpoint}')
    del runner

    metrics = run_test(prepare_test_config(task.config, checkpoint, work_dir=work_dir,
                                           show_dir=show_dir, cfg_options=options))
    end = time.time()
    pictures = sorted(glob.glob(osp.join(show_dir, '**', '*.png'), recursive=True))
    picture_dir = osp.dirname(pictures[0]) if pictures else show_dir
    print(f'[demo] held-out evaluation in {end - trained:.0f} s; total {end - start:.0f} s')
    print(task.summary(metrics))
    print(f'[demo] {len(pictures)} pictures, ground truth (left) and prediction (right): '
          f'{picture_dir}/')
    print(f'[demo] checkpoint: {checkpoint}; logs: {work_dir}/')
    metrics['wall_s'] = end - start
    metrics['train_s'] = trained - start
    metrics['eval_s'] = end - trained
    return metrics


def write_metrics_file(path: str, task: DemoTask, metrics: Dict[str, float], passed: bool,
                       argv) -> None:
    """The demo's metrics file: what docs/records/demo_<name>.json is made from
    (tools/docs_records.py refresh demo_<name>). Written whole or not at all."""
    import torch
    from ..records.store import machine, write_record
    timings = ('wall_s', 'train_s', 'eval_s')
    # CocoMetric adds '<metric>_<class>_precision' per class with classwise=True.
    per_class: Dict[str, Dict[str, float]] = {}
    for key, value in metrics.items():
        if key.endswith('_precision') and '/' in key:
            kind, name = key.split('/', 1)[1].split('_', 1)
            per_class.setdefault(name[:-len('_precision')], {})[kind] = value
    record = dict(
        demo=task.name, config=task.config, complete=True,
        command=[osp.relpath(sys.executable)] + list(argv), threads=torch.get_num_threads(),
        passed=passed, target=TARGETS[task.name],
        # numbers.Real: IoUMetric's figures are numpy float32, which is not a float
        metrics={k: float(v) for k, v in metrics.items() if k not in timings
                 and not k.endswith('_precision') and isinstance(v, numbers.Real)},
        per_class=per_class, seconds={k: round(metrics[k], 1) for k in timings},
        load_average_end=list(os.getloadavg()), machine=machine(),
        finished_utc=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()))
    write_record(path, record)
    print(f'[demo] metrics: {path}')


def demo_cli(name: str, argv=None) -> int:
    """tools/demo_{detection,segmentation}.py: run one demo, exit status 0 if it passed."""
    parser = argparse.ArgumentParser(description=f'Train and evaluate the {name} demo')
    parser.add_argument('--iters', type=int, default=None,
                        help="training iterations (default: the config's)")
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    parser.add_argument('--metrics-out', default=f'outputs/demo_{name}/metrics.json',
                        metavar='FILE.json', help='where the metrics file goes (default: '
                        '%(default)s)')
    args = parser.parse_args(argv)
    os.environ.setdefault('PYTHONHASHSEED', '0')
    task = TASKS[name]
    metrics = run_demo(task, args.iters, args.threads)
    ok = bool(task.passed(metrics))  # numpy metrics give numpy bools, which JSON refuses
    write_metrics_file(args.metrics_out, task, metrics, ok, [f'tools/demo_{name}.py']
                       + list(sys.argv[1:] if argv is None else argv))
    print(f'[demo] {"PASS" if ok else "FAIL"}: {TARGETS[name]} on the held-out split'
          + ('' if ok else ' NOT reached'))
    return 0 if ok else 1
