"""Detect objects in images and save pictures with boxes, masks and labels.

    .venv/bin/python tools/image_demo.py IMAGE_OR_FOLDER CONFIG CHECKPOINT
        [--out-dir outputs/image_demo] [--device cpu] [--pred-score-thr 0.3] [--dtype fp32|bf16]

Pictures go to OUT_DIR/vis/<image name>, predictions as JSON to OUT_DIR/preds/.
"""
import argparse
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout
# mmengine's import warns about pkg_resources on stderr: keep stderr for our one line
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

from swinv2_mm.engine.cli import pop_debug, run_guarded  # noqa: E402
from swinv2_mm.engine.inference import detect_images  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Detect objects in images (mmdet config)')
    parser.add_argument('inputs', nargs='+', help='image files or a folder of images')
    parser.add_argument('config', help='detection config file')
    parser.add_argument('checkpoint', help='checkpoint (Runner checkpoint or weights)')
    parser.add_argument('--out-dir', default='outputs/image_demo', help='where to save')
    parser.add_argument('--device', default=None, help='e.g. cpu or cuda:0 (default: GPU '
                        'if there is one)')
    parser.add_argument('--pred-score-thr', type=float, default=0.3,
                        help='draw predictions with at least this score')
    parser.add_argument('--no-save-pred', action='store_true', help='no JSON predictions')
    parser.add_argument('--dtype', choices=['fp32', 'bf16'], default='fp32',
                        help='bf16: run the model under autocast in bfloat16 (CPU or GPU)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv, debug = pop_debug(argv)
    args = parse_args(argv)

    def body():
        saved = detect_images(args.inputs, args.config, args.checkpoint, out_dir=args.out_dir,
                              device=args.device, score_thr=args.pred_score_thr,
                              save_pred=not args.no_save_pred, dtype=args.dtype)
        print(f'saved {len(saved)} picture(s) with boxes, masks and labels to '
              f'{osp.join(args.out_dir, "vis")}')
    return run_guarded(body, debug)


if __name__ == '__main__':
    sys.exit(main())
