"""What tools/train.py and tools/test.py do, for mmdet and mmseg configs alike.

The behaviour is that of mmdet 3.x's and mmseg 1.x's tools (the config's `default_scope`
decides which), plus what this stack needs:
  * Runner checkpoints are read with the restricted unpickler that `import swinv2_mm`
    registers for mmengine's loaders (checkpoint_safety), so `--resume` and testing a
    checkpoint work under torch >= 2.6 while a hostile file is refused;
  * on a machine without CUDA, distributed runs use gloo and CPU DDP (mmengine assumes a GPU);
  * flags that cannot work here (`--amp` without a GPU, `--tta` without a TTA config) say so
    before anything is built.
mmdet / mmseg are imported only inside the functions that need them.
"""
import contextlib
import itertools
import os
import os.path as osp
from copy import deepcopy
from typing import Optional, Sequence

import torch
from mmengine.config import Config, ConfigDict

from .checkpoint_files import (check_fits_model, fetch_if_url,
                               pick_resume_checkpoint, read_checkpoint_file,
                               require_runner_checkpoint, state_dict_of)

from .errors import ToolError
from .inference_window import set_test_window, window_from_options

# 'mmengine': SimMIM pre-training configs (configs/simmim), built from mmengine's root
# registries, where swinv2_mm.selfsup registers its parts; train only.
TASKS = ('mmdet', 'mmseg', 'mmengine')




def add_launch_args(parser) -> None:
    """The arguments tools/train.py and tools/test.py share with mmdet's and mmseg's tools."""
    from mmengine.config import DictAction
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value, e.g. '
                        'model.backbone.init_cfg.checkpoint=/path/to/weights.pth')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK itself.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--check-only', action='store_true',
                        help='check the config, the data and the flags, build nothing and exit '
                        '(tools/dist_*.sh run this once before launching)')


def parse_launch_args(parser, argv=None):
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(config: str, cfg_options: Optional[dict] = None) -> Config:
    if not osp.isfile(config):
        raise ToolError(f'config file not found: {config}')
    try:
        cfg = Config.fromfile(config)
    except Exception as e:  # noqa: BLE001 - syntax errors, bad bases, ...: name the file
        raise ToolError(f'{config}: cannot be read as a config: {_config_error(e, config)}') \
            from e
    if cfg_options:
        _check_option_keys(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    return cfg


def _config_error(e: Exception, config: str) -> str:
    inner = e
    while inner.__cause__ is not None or inner.__context__ is not None:
        if isinstance(inner, SyntaxError):
            break
        inner = inner.__cause__ or inner.__context__
    if isinstance(inner, SyntaxError) and inner.lineno:
        name = inner.filename if inner.filename and not inner.filename.startswith('<') \
            else config  # mmengine compiles the config's text without its name
        where = f'{name}, line {inner.lineno}'
        return f'syntax error in {where}: {inner.msg}'
    text = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), '')
    return f'{type(e).__name__}: {text}' if text else type(e).__name__


def _check_option_keys(cfg: Config, options: dict) -> None:
    """A --cfg-options key that is absent from the config but close to a key that is there
    is a typo (`train_dataloader.batchsize`): say so now, not as a TypeError deep in the
    Runner. Keys that are new and resemble nothing are allowed (configs add keys freely)."""
    import difflib
    for key in options:
        node, done = cfg._cfg_dict, []
        for part in key.split('.'):
            if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, dict):
                close = difflib.get_close_matches(part, [str(k) for k in node], n=1,
                                                  cutoff=0.75)
                if close:
                    where = '.'.join(done) or 'the top level'
                    raise ToolError(f'--cfg-options {key}: the config has no {part!r} under '
                                    f'{where}; did you mean {".".join(done + close[:1])}?')
                break
            else:
                break
            done.append(part)


def task_of(cfg: Config) -> str:
    """'mmdet', 'mmseg' or 'mmengine' (SimMIM pre-training), from the config's
    default_scope."""
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        raise ToolError(f"config's default_scope is {scope!r}; these tools run mmdet or mmseg "
                        "configs (default_scope='mmdet' or 'mmseg', which their "
                        "default_runtime bases set) and SimMIM pre-training configs "
                        "(default_scope='mmengine', configs/simmim)")
    return scope


def _set_work_dir(cfg: Config, config: str, work_dir: Optional[str]) -> None:
    # As in mmdet/mmseg: command line > config > ./work_dirs/<config name>
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])


def _is_url(path: str) -> bool:
    return path.startswith(('http://', 'https://', 's3://'))


_DATASET_DOCS = {'mmdet': ('COCO', 'docs/detection.md#datasets'),
                 'mmseg': ('ADE20K', 'docs/segmentation.md#datasets'),
                 'mmengine': ('images', 'docs/simmim.md#your-images')}


def _leaf_datasets(dataset):
    """The datasets inside wrappers (RepeatDataset, ConcatDataset, ClassBalancedDataset)."""
    if not isinstance(dataset, dict):
        return []
    if isinstance(dataset.get('datasets'), (list, tuple)):
        return [d for sub in dataset['datasets'] for d in _leaf_datasets(sub)]
    if isinstance(dataset.get('dataset'), dict):
        return _leaf_datasets(dataset['dataset'])
    return [dataset]


def check_datasets(cfg: Config, config: str, loaders: Sequence[str]) -> None:
    """Before anything is built: the files the config's datasets read exist. Otherwise one
    line naming data_root, the tree expected under it and the docs section on getting the
    data (mmdet/mmseg would end a long log with a bare FileNotFoundError)."""
    task = cfg.get('default_scope')
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not isinstance(loader_cfg, dict):
            continue
        for ds in _leaf_datasets(loader_cfg.get('dataset')):
            root = ds.get('data_root') or ''
            wanted = []  # (path relative to data_root, full path)
            ann = ds.get('ann_file')
            if isinstance(ann, str) and ann:
                wanted.append((ann, ann if osp.isabs(ann) else osp.join(root, ann)))
            for sub in (ds.get('data_prefix') or {}).values():
                if isinstance(sub, str) and sub:
                    wanted.append((sub.rstrip('/') + '/', osp.join(root, sub)))
            missing = [rel for rel, full in wanted if not osp.exists(full)]
            if not missing and not (root and not osp.isdir(root)):
                continue
            name, docs = _DATASET_DOCS.get(task, ('the dataset', 'the docs'))
            # (a folder of images, e.g. SimMIM's, expects nothing in particular under it)
            tree = '; expected under it: ' + ', '.join(rel for rel, _ in wanted) if wanted \
                else ''
            what = 'does not exist' if root and not osp.isdir(root) else f'has no {missing[0]}'
            raise ToolError(
                f'dataset not found: {loader}.dataset.data_root={root!r} (from {config}) '
                f'{what}{tree}. Get {name} as '
                f'{docs} says, or point at your copy with --cfg-options '
                f'{loader}.dataset.data_root=/path/to/{name.lower()}/ (see {docs})')


def setup_launcher(cfg: Config, launcher: str) -> None:
    """Set cfg.launcher; without CUDA, start gloo and use DDP on CPU.

    mmengine's init_dist calls torch.cuda.set_device and its default DDP wrapper passes
    device_ids=[LOCAL_RANK]; both fail on a CPU-only machine. So here we start the process
    group ourselves (the Runner then finds it started) and give DDP no device ids.
    """
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ToolError(f'--launcher {launcher} needs GPUs here; on a CPU-only machine run '
                        'distributed jobs with torchrun (tools/dist_train.sh, --launcher '
                        'pytorch), which uses the gloo backend')
    import torch.distributed as dist
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise ToolError(f'--launcher pytorch expects torchrun to set {missing}; start with '
                        'tools/dist_train.sh CONFIG NPROC (or torchrun ... --launcher pytorch)')
    dist_cfg = cfg.setdefault('env_cfg', ConfigDict()).setdefault('dist_cfg', ConfigDict())
    dist_cfg['backend'] = 'gloo'  # what mmdet's default_runtime says is nccl: GPU only
    if not dist.is_initialized():
        kwargs = {}
        if dist_cfg.get('timeout') is not None:
            import datetime
            kwargs['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
        dist.init_process_group(backend='gloo', **kwargs)
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None  # DDP on CPU modules takes no device ids
    cfg.model_wrapper_cfg = wrapper


def prepare_train_config(config: str, work_dir: Optional[str] = None,
                         resume: Optional[str] = None, amp: bool = False,
                         auto_scale_lr: bool = False, cfg_options: Optional[dict] = None,
                         launcher: str = 'none') -> Config:
    """The config mmdet's / mmseg's tools/train.py would run, from the same arguments.

    resume: None (no resume), 'auto' (latest checkpoint in work_dir) or a checkpoint path.
    """
    cfg = load_config(config, cfg_options)
    task = task_of(cfg)
    _set_work_dir(cfg, config, work_dir)

    if amp:
        if not torch.cuda.is_available():
            raise ToolError('--amp needs a CUDA GPU: mmengine\'s AmpOptimWrapper (float16 with '
                            'loss scaling) runs on GPU only, and none is visible here. Train '
                            'in float32 on CPU by leaving out --amp.')
        wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper_type not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ToolError(f'--amp works with optim_wrapper type OptimWrapper, the config has '
                            f'{wrapper_type}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if auto_scale_lr:
        scale = cfg.get('auto_scale_lr')
        if not scale or 'base_batch_size' not in scale:
            raise ToolError('--auto-scale-lr needs auto_scale_lr=dict(enable=False, '
                            'base_batch_size=N) in the config (N: the total batch size the '
                            'learning rate was set for)')
        cfg.auto_scale_lr.enable = True

    # As mmdet: 'auto' resumes from the work dir, a path resumes from that file. Which
    # file (auto: the newest that loads and fits) is decided in run_train, with the model.
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        if _is_url(resume):
            resume = fetch_if_url(resume)
        if not osp.isfile(resume):
            raise ToolError(f'--resume {resume}: no such checkpoint file')
        cfg.resume = True
        cfg.load_from = resume

    install_crash_safety(cfg)
    check_datasets(cfg, config, ['train_dataloader']
                   + (['val_dataloader'] if cfg.get('val_cfg') else []))
    setup_launcher(cfg, launcher)
    if task == 'mmdet':
        from mmdet.utils import setup_cache_size_limit_of_dynamo
        setup_cache_size_limit_of_dynamo()
    return cfg


def install_crash_safety(cfg: Config) -> None:
    """Every training run: atomic checkpoints, random states in them, resume where the
    interrupted run stood (swinv2_mm/engine/resume.py)."""
    from . import resume  # noqa: F401 - registers the hook and loop types
    hooks = cfg.setdefault('default_hooks', ConfigDict())
    ckpt = hooks.get('checkpoint')
    if isinstance(ckpt, dict) and ckpt.get('type') in ('CheckpointHook',
                                                       'mmengine.CheckpointHook'):
        ckpt['type'] = 'AtomicCheckpointHook'
    custom = list(cfg.get('custom_hooks') or [])
    if not any(isinstance(h, dict) and h.get('type') == 'RandomStateHook' for h in custom):
        custom.append(dict(type='RandomStateHook'))
    cfg.custom_hooks = custom
    train_cfg = cfg.get('train_cfg')
    if isinstance(train_cfg, dict) and train_cfg.get('type') == 'IterBasedTrainLoop':
        train_cfg['type'] = 'ResumableIterBasedTrainLoop'


def _enable_visualization(cfg: Config, task: str, show_dir: str) -> None:
    hooks = cfg.get('default_hooks', {})
    if 'visualization' not in hooks:
        raise ToolError('--show-dir needs a visualization hook in default_hooks (mmdet: '
                        "dict(type='DetVisualizationHook'), mmseg: "
                        "dict(type='SegVisualizationHook'))")
    hooks['visualization']['draw'] = True
    if task == 'mmdet':
        # DetVisualizationHook writes to work_dir/<timestamp>/<test_out_dir> (absolute: as is)
        hooks['visualization']['test_out_dir'] = show_dir
    else:
        cfg.visualizer['save_dir'] = show_dir


def _enable_tta(cfg: Config, task: str) -> None:
    missing = [k for k in ('tta_model', 'tta_pipeline') if k not in cfg]
    if missing:
        raise ToolError(f'--tta: the config defines no {" and no ".join(missing)}. Add '
                        'tta_model=dict(type=...) and tta_pipeline=[...] to the config (see '
                        f'{task}\'s configs, e.g. '
                        + ("mmseg's configs/_base_/datasets/ade20k.py" if task == 'mmseg'
                           else "mmdet's configs/centernet/centernet_tta.py")
                        + '), or test without --tta. (mmdet 3.3 has no TTA for masks.)')
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # wrappers such as ConcatDataset/RepeatDataset
        dataset = dataset['dataset']
    dataset['pipeline'] = cfg.tta_pipeline
    tta_model = deepcopy(cfg.tta_model)
    tta_model['module'] = cfg.model
    cfg.model = tta_model


def prepare_test_config(config: str, checkpoint: str, work_dir: Optional[str] = None,
                        out: Optional[str] = None, show_dir: Optional[str] = None,
                        tta: bool = False, cfg_options: Optional[dict] = None,
                        launcher: str = 'none', dtype: str = 'fp32',
                        window: Optional[Sequence[int]] = None) -> Config:
    """The config mmdet's / mmseg's tools/test.py would run, from the same arguments.

    dtype 'bf16': the test loop runs under autocast in bfloat16 (CPU and GPU).
    window: test-time window of the SwinV2 backbone (one, or one per stage), keeping the
    position bias's trained normalisation (inference_window.py)."""
    window, cfg_options = window_from_options(window, cfg_options)
    cfg = load_config(config, cfg_options)
    task = task_of(cfg)
    if task == 'mmengine':
        raise ToolError(f'{config} is a SimMIM pre-training config: there is nothing to test. '
                        'Fine-tune a detector or segmentor from its checkpoint and test that '
                        '(docs/simmim.md)')
    _set_work_dir(cfg, config, work_dir)
    if _is_url(checkpoint):
        checkpoint = fetch_if_url(checkpoint)
    if not osp.isfile(checkpoint):
        raise ToolError(f'checkpoint file not found: {checkpoint}')
    cfg.load_from = checkpoint
    set_test_dtype(cfg, dtype)
    if window is not None:  # the Runner's log then shows the whole config it ran
        print(set_test_window(cfg, window))
    if show_dir:
        _enable_visualization(cfg, task, show_dir)
    if tta:
        _enable_tta(cfg, task)
    if out is not None:
        if task == 'mmdet':
            if not out.endswith(('.pkl', '.pickle')):
                raise ToolError(f'--out {out}: mmdet dumps predictions to a .pkl file')
            # run_test(cfg, out) appends mmdet's DumpDetResults to the built evaluator
        else:
            # mmseg: predictions are written as images under this folder
            cfg.test_evaluator['output_dir'] = out
            cfg.test_evaluator['keep_results'] = True
    check_datasets(cfg, config, ['test_dataloader'])
    drop_training_parts(cfg)
    setup_launcher(cfg, launcher)
    if task == 'mmdet':
        from mmdet.utils import setup_cache_size_limit_of_dynamo
        setup_cache_size_limit_of_dynamo()
    return cfg


def drop_training_parts(cfg: Config) -> None:
    """A test run builds nothing of training. mmseg's visualization hook (--show-dir) reads
    `runner.iter`, which makes the Runner build the train loop and with it the train data
    loader: with only the test split on disk that ended after one image with
    `FileNotFoundError: ... images/training`. The Runner takes the four as a set."""
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler'):
        cfg[key] = None


DTYPES = ('fp32', 'bf16')


def set_test_dtype(cfg: Config, dtype: str) -> None:
    """bf16: mmengine's TestLoop runs each test step under its `autocast` when fp16=True;
    on CPU that is bfloat16, on CUDA the autocast GPU dtype, set to bfloat16 here."""
    if dtype not in DTYPES:
        raise ToolError(f'--dtype {dtype}: choose one of {", ".join(DTYPES)}')
    if dtype == 'fp32':
        return
    test_cfg = cfg.get('test_cfg') or ConfigDict(type='TestLoop')
    test_cfg['fp16'] = True
    cfg.test_cfg = test_cfg
    if torch.cuda.is_available():
        if not torch.cuda.is_bf16_supported():
            raise ToolError('--dtype bf16: this GPU has no bfloat16 support; use --dtype fp32')
        torch.set_autocast_dtype('cuda', torch.bfloat16)


_RUNNERS_BUILT = itertools.count()


def build_runner(cfg: Config):
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    if cfg.get('visualizer') is not None:
        # mmengine hands a Runner the existing visualizer of the same name, whatever its class
        # and save_dir: a second Runner in one process (train then test, or a detection run
        # after a segmentation run) would draw with the first one's. One name per Runner.
        cfg.visualizer.name = f'{cfg.visualizer.get("name", "visualizer")}_{next(_RUNNERS_BUILT)}'
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)


def _bare_model(model):
    """The network whose weights a checkpoint holds: inside DDP and TTA wrappers."""
    while hasattr(model, 'module') and isinstance(model.module, torch.nn.Module):
        model = model.module
    return model


def choose_resume_checkpoint(runner) -> None:
    """--resume: a given file must be a Runner checkpoint that fits the model; without a
    file, the newest checkpoint of the work dir that loads and fits is taken, and each one
    skipped is logged with the reason. Nothing is ever executed from a file."""
    if not runner._resume:
        return
    model = _bare_model(runner.model)
    if runner._load_from is not None:
        path = str(runner._load_from)
        obj = read_checkpoint_file(path, '--resume')
        # fit first: a backbone-only ImageNet file is better named as such than as
        # "weights without training state"
        check_fits_model(model, state_dict_of(obj, path, '--resume'), path, '--resume')
        require_runner_checkpoint(obj, path)
        return
    path, skipped = pick_resume_checkpoint(model, runner.work_dir,
                                           log=lambda m: runner.logger.warning(m))
    if path is None and skipped:
        raise ToolError(f'--resume: none of the {len(skipped)} checkpoint(s) in '
                        f'{runner.work_dir} can be resumed ({skipped[0]}); move them away to '
                        'start from the beginning, or give one with --resume PATH')
    if path is None:
        runner.logger.info(f'--resume: no checkpoint in {runner.work_dir} yet; training '
                           'starts from the beginning')
        runner._resume = False
        return
    runner.logger.info(f'--resume: resuming from {path}'
                       + (f' (skipped {len(skipped)} newer that did not load)' if skipped
                          else ''))
    runner._load_from = path


def run_train(cfg: Config):
    """Build the Runner and train; returns the runner (its model is the trained one)."""
    runner = build_runner(cfg)
    choose_resume_checkpoint(runner)
    runner.train()
    return runner


def run_test(cfg: Config, out: Optional[str] = None) -> dict:
    """Build the Runner and test; returns the metrics. `out` (mmdet): also dump the
    predictions to this .pkl file (mmseg configs get theirs from prepare_test_config)."""
    runner = build_runner(cfg)
    path = str(runner._load_from)
    obj = read_checkpoint_file(path, 'checkpoint')
    check_fits_model(_bare_model(runner.model), state_dict_of(obj, path, 'checkpoint'), path,
                     'checkpoint')
    del obj
    if out is not None and task_of(cfg) == 'mmdet':
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=out))
    from .precision import float32_outputs, mmcv_ops_in_float32
    bf16 = bool((cfg.get('test_cfg') or {}).get('fp16'))
    if bf16:
        float32_outputs(runner.model)
    with mmcv_ops_in_float32() if bf16 else contextlib.nullcontext():
        return runner.test()


def parse_cfg_options(values: Optional[Sequence[str]]) -> Optional[dict]:
    """`--cfg-options a.b=1 c=[1,2]` as mmengine's DictAction reads it (for programmatic use)."""
    if not values:
        return None
    from mmengine.config import DictAction
    out: dict = {}
    for kv in values:
        key, val = kv.split('=', maxsplit=1)
        out[key] = DictAction._parse_iterable(val)
    return out
