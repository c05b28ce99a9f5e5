"""Checking a checkpoint by classifying (tools/classify.py): the whole classifier of any
format, logits equal to transformers' Swinv2ForImageClassification, timm's and torchvision's
on the same weights; the model cards' preprocessing; one-line errors."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from reference_models import (SMALL, official_to_simmim, perturb_, save_all_formats,
                              timm_model, timm_to_official, torchvision_model)
from swinv2_mm.engine.classify import build_classifier, classify, load_image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = 1e-4
MAX_ERRORS = {}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)  # the inputs, so that the printed differences repeat run to run


def _close(a, b, reference):
    err = (a - b).abs().max().item()
    MAX_ERRORS[reference] = max(MAX_ERRORS.get(reference, 0.0), err)
    assert err < TOL, f'{reference}: logits differ by {err:.3g}'


@pytest.fixture(scope='module')
def image(tmp_path_factory):
    """A photo-like test image (smooth gradients and a disc), not square."""
    yy, xx = np.mgrid[0:300, 0:400]
    rgb = np.stack([xx / 400 * 255, yy / 300 * 255,
                    ((xx - 200) ** 2 + (yy - 150) ** 2 < 80 ** 2) * 200 + 30], -1)
    path = tmp_path_factory.mktemp('images') / 'test.png'
    Image.fromarray(rgb.astype(np.uint8)).save(path)
    return str(path)


def test_preprocessing_is_the_model_cards(image):
    """transformers' image processor as the SwinV2 model cards use it: resize to 256x256
    (bicubic), rescale, normalise with ImageNet's mean and std."""
    from transformers import ViTImageProcessor
    from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
    processor = ViTImageProcessor(size={'height': 256, 'width': 256}, resample=3,
                                  image_mean=IMAGENET_DEFAULT_MEAN, image_std=IMAGENET_DEFAULT_STD)
    expected = processor(Image.open(image), return_tensors='pt')['pixel_values'][0]
    diff = (load_image(image, 256) - expected).abs()
    # The same PIL resize; a few values round to the neighbouring 8-bit level (5 of 196608
    # here): at most one level, 1 / 255 / std.
    assert diff.max().item() <= 1 / 255 / 0.224 + 1e-6
    assert (diff > 1e-5).float().mean().item() < 1e-4


def test_logits_equal_transformers_classifier(tmp_path, image):
    from transformers import Swinv2Config, Swinv2ForImageClassification
    config = Swinv2Config(image_size=256, embed_dim=32, depths=[2, 2, 2, 2],
                          num_heads=[1, 2, 4, 8], window_size=8, num_labels=10)
    ref = perturb_(Swinv2ForImageClassification(config))
    ref.save_pretrained(tmp_path)  # model.safetensors + config.json (windows, labels)
    classifier = build_classifier(str(tmp_path))
    assert classifier.image_size == 256 and classifier.labels[3] == 'LABEL_3'
    x = load_image(image, 256)[None]
    with torch.no_grad():
        _close(classifier.model(x), ref(x).logits, 'transformers Swinv2ForImageClassification')
    # pytorch_model.bin (what the microsoft/ repos hold)
    torch.save(ref.state_dict(), tmp_path / 'pytorch_model.bin')
    os.remove(tmp_path / 'model.safetensors')
    with torch.no_grad():
        _close(build_classifier(str(tmp_path / 'pytorch_model.bin')).model(x), ref(x).logits,
               'transformers Swinv2ForImageClassification')


@pytest.mark.parametrize('layout', ['timm_safetensors', 'official', 'mmpretrain'])
def test_logits_equal_timm(tmp_path, image, layout):
    """timm's classifier (final norm, pooling, head.fc) on the same weights, written in each
    layout; the official and mmpretrain files tell their window, timm's needs --window."""
    ref = timm_model((256, 256), 8)
    paths = save_all_formats(ref, str(tmp_path))
    classifier = build_classifier(paths[layout], window=8 if layout.startswith('timm') else None)
    x = load_image(image, 256)[None]
    with torch.no_grad():
        _close(classifier.model(x), ref(x), 'timm SwinTransformerV2')


def test_logits_equal_torchvision(tmp_path, image):
    ref = torchvision_model(window_size=8)
    torch.save(ref.state_dict(), tmp_path / 'swin_v2_t-b137f0e2.pth')
    classifier = build_classifier(str(tmp_path / 'swin_v2_t-b137f0e2.pth'))
    x = load_image(image, 256)[None]
    with torch.no_grad():
        _close(classifier.model(x), ref(x), 'torchvision swin_v2')


def _run(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'classify.py'), *args],
                          capture_output=True, text=True, timeout=300)


def _run_here(capsys, monkeypatch, *args):
    """The tool's main() in this process (its imports are paid once): (exit code, stderr)."""
    import runpy
    main = runpy.run_path(os.path.join(ROOT, 'tools', 'classify.py'), run_name='tool')['main']
    monkeypatch.setattr(sys, 'argv', ['classify.py', *args])
    code = main()
    return code, capsys.readouterr().err


def test_tool_prints_imagenet_top5(tmp_path, image):
    """A 1000-class head: timm's ImageNet-1K names, probabilities in order, and the same
    top-1 class as timm's own model on the same input."""
    from timm.data import ImageNetInfo
    ref = timm_model((256, 256), 8)
    ref.reset_classifier(1000)
    perturb_(ref.head)
    path = save_all_formats(ref, str(tmp_path))['official']
    proc = _run(image, image, '--checkpoint', path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert 'official format, 1000 classes' in lines[0]
    assert lines[1] == image and len(lines) == 1 + 2 * 6
    probs = [float(ln.split()[1]) for ln in lines[2:7]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    with torch.no_grad():
        top = int(ref(load_image(image, 256)[None]).argmax())
    assert lines[2].endswith(f'{ImageNetInfo().index_to_description(top)}  [{top}]')


def test_tool_errors_are_one_line(tmp_path, image, capsys, monkeypatch):
    ref = timm_model((256, 256), 8)
    paths = save_all_formats(ref, str(tmp_path))
    not_an_image = tmp_path / 'notes.txt'
    not_an_image.write_text('hello')
    simmim = tmp_path / 'swinv2_small_1k_500k.pth'
    torch.save({'model': official_to_simmim(timm_to_official(ref), 32, False)}, simmim)
    cases = [
        ((str(not_an_image), '--checkpoint', paths['official']), 'cannot be read as an image'),
        ((image, '--checkpoint', str(simmim)), 'has no classification head'),
        ((image, '--checkpoint', paths['timm_pth']), 'pass --window W'),
        ((image, '--checkpoint', str(tmp_path / 'missing.pth')), 'not found'),
        ((image, '--checkpoint', paths['official'], '--topk', '0'), '--topk 0'),
    ]
    for args, message in cases:
        code, err = _run_here(capsys, monkeypatch, *args)
        assert code == 1 and err.startswith('error: ') and message in err, err
        assert len(err.strip().splitlines()) == 1, err
    # and as a user runs it: a separate process, exit status 1, no traceback
    proc = _run(str(not_an_image), '--checkpoint', paths['official'])
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith('error: ')
