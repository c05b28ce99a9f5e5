"""Checkpoint reading, format detection and every refusal a user can hit."""
import os
import pickle
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from reference_models import SMALL, save_all_formats, timm_model
from swinv2_mm import SwinTransformerV2
from swinv2_mm.checkpoint import CheckpointError, convert, detect_format, read_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """The same random SMALL weights (window 8 at 256 px) in every layout."""
    folder = tmp_path_factory.mktemp('formats')
    ref = timm_model((256, 256), 8)
    paths = save_all_formats(ref, str(folder))
    ref_w16 = timm_model((256, 256), 16, (12, 12, 12, 6))
    paths['official_12_6'] = save_all_formats(ref_w16, str(folder / '..'))['official']
    return paths


def load(checkpoint, **kwargs):
    args = dict(arch=SMALL, window_size=8)
    args.update(kwargs)
    model = SwinTransformerV2(init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint)),
                              **args)
    model.init_weights()
    return model


@pytest.mark.parametrize('name,fmt', [('timm_pth', 'timm'), ('timm_safetensors', 'timm'),
                                      ('official', 'official'), ('mmpretrain', 'mmpretrain')])
def test_format_detection(files, name, fmt):
    assert detect_format(read_checkpoint(files[name])) == fmt


def test_every_format_loads_the_same_weights(files):
    states = [load(files[n]).state_dict() for n in ('timm_pth', 'official', 'mmpretrain')]
    for key, value in states[0].items():
        if key.startswith(('norm0', 'norm1', 'norm2', 'norm3')):
            continue  # mmpretrain files carry all output norms, the others only the last
        for other in states[1:]:
            assert torch.equal(value, other[key]), key


def test_buffers_and_head_are_not_loaded(files):
    conv = convert(read_checkpoint(files['official']))
    assert not any(k.endswith(('relative_position_index', 'relative_coords_table', 'attn_mask'))
                   for k in conv.state_dict)
    assert 'head.weight' in conv.ignored
    assert any(k.endswith('attn_mask') for k in conv.ignored)


def test_missing_output_norms_are_reported_in_one_line(files):
    from swinv2_mm.checkpoint import load_pretrained
    conv = load_pretrained(SwinTransformerV2(arch=SMALL, window_size=8), files['timm_pth'])
    assert '\n' not in conv.summary
    assert 'left at init (not in the file): norm0, norm1, norm2' in conv.summary


def test_wrong_depth_names_keys(files):
    with pytest.raises(CheckpointError) as e:
        load(files['timm_pth'], arch=dict(SMALL, depths=(2, 2, 6, 2)))
    msg = str(e.value)
    assert 'depths=(2, 2, 2, 2)' in msg and 'depths=(2, 2, 6, 2)' in msg
    assert 'stages.2.blocks.2' in msg  # in the model but not the checkpoint


def test_wrong_width_names_keys_and_shapes(files):
    with pytest.raises(CheckpointError) as e:
        load(files['official'], arch=dict(SMALL, embed_dims=48, num_heads=(1, 2, 4, 8)))
    msg = str(e.value)
    assert 'patch_embed.projection.weight: (32, 3, 4, 4) vs (48, 3, 4, 4)' in msg


def test_nothing_is_loaded_when_it_does_not_fit(files):
    model = SwinTransformerV2(arch=dict(SMALL, depths=(2, 2, 6, 2)), window_size=8,
                              init_cfg=dict(type='Pretrained', checkpoint=files['timm_pth']))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    from swinv2_mm.checkpoint import load_pretrained
    with pytest.raises(CheckpointError):
        load_pretrained(model, files['timm_pth'])
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_pretrained_window_mismatch_is_refused_with_the_fix(files):
    # The 22K checkpoints' tables record windows 12/6; configuring none is the silent error.
    with pytest.raises(CheckpointError) as e:
        load(files['official_12_6'], window_size=16)
    assert 'pretrained_window_sizes=[12, 12, 12, 6]' in str(e.value)
    load(files['official_12_6'], window_size=16, pretrained_window_sizes=(12, 12, 12, 6))
    # mmpretrain files carry the tables too.
    with pytest.raises(CheckpointError, match=r'pretrained_window_sizes=\[8, 8, 8, 8\]'):
        load(files['mmpretrain'], window_size=16)


def test_transformers_config_json_is_checked(tmp_path):
    from reference_models import transformers_backbone
    ref = transformers_backbone((256, 256), 16, (12, 12, 12, 6))
    ref.save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match=r'\[12, 12, 12, 6\]'):
        load(tmp_path, window_size=16)
    load(tmp_path / 'model.safetensors', window_size=24, pretrained_window_sizes=(12, 12, 12, 6))


def test_swin_v1_checkpoint_is_named(tmp_path):
    path = tmp_path / 'swin_v1.pth'
    torch.save({'model': {'layers.0.blocks.0.attn.relative_position_bias_table':
                          torch.zeros(225, 3), 'patch_embed.proj.weight': torch.zeros(96, 3, 4, 4)}},
               path)
    with pytest.raises(CheckpointError, match='Swin Transformer V1'):
        load(path)


def test_unknown_layout_lists_accepted_formats(tmp_path):
    path = tmp_path / 'resnet.pth'
    torch.save({'conv1.weight': torch.zeros(64, 3, 7, 7)}, path)
    with pytest.raises(CheckpointError, match='Accepted: the official Microsoft release'):
        load(path)


@pytest.mark.parametrize('content', [b'not a checkpoint at all', b''])
def test_unreadable_file(tmp_path, content):
    path = tmp_path / 'broken.pth'
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match='Accepted:'):
        load(path)


def test_missing_file():
    with pytest.raises(CheckpointError, match='not found: /no/such/swinv2.pth'):
        load('/no/such/swinv2.pth')


def test_unreachable_url_says_what_to_do():
    with pytest.raises(CheckpointError, match='init_cfg.checkpoint'):
        load('http://127.0.0.1:9/swinv2_tiny_patch4_window8_256.pth')


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def test_hostile_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'hostile.pth'
    with open(path, 'wb') as f:
        pickle.dump({'model': {'x': _Exploit(str(marker))}}, f)
    # The same file written with torch.save, the way a real attack would arrive.
    torch_path = tmp_path / 'hostile_torch.pth'
    torch.save({'model': _Exploit(str(marker))}, torch_path)
    for p in (path, torch_path):
        with pytest.raises(CheckpointError, match='refused to load checkpoint'):
            load(p)
    assert not marker.exists()


def test_partial_checkpoint_is_refused(files, tmp_path):
    state = torch.load(files['timm_pth'], weights_only=True)
    del state['layers.2.blocks.1.mlp.fc2.weight']
    path = tmp_path / 'partial.safetensors'
    save_file({k: v.contiguous() for k, v in state.items()}, path)
    with pytest.raises(CheckpointError, match='stages.2.blocks.1.mlp.fc2.weight'):
        load(path)


def test_detector_checkpoint_needs_prefix(files, tmp_path):
    """A whole-detector file: the backbone's weights under 'backbone.' with other parts
    beside them. With prefix='backbone.' it loads; without, the error says so."""
    from swinv2_mm.checkpoint import load_pretrained
    ours = load(files['timm_pth']).state_dict()
    det = {f'backbone.{k}': v for k, v in ours.items()}
    det['neck.lateral_convs.0.conv.weight'] = torch.zeros(8, 32, 1, 1)
    path = tmp_path / 'detector.safetensors'
    save_file(det, path)
    model = SwinTransformerV2(arch=SMALL, window_size=8)
    load_pretrained(model, str(path), prefix='backbone.')
    assert torch.equal(model.state_dict()['stages.1.blocks.0.attn.qkv.weight'],
                       ours['stages.1.blocks.0.attn.qkv.weight'])
    with pytest.raises(CheckpointError, match="prefix='backbone.'"):
        load_pretrained(SwinTransformerV2(arch=SMALL, window_size=8), str(path))


def test_convert_checkpoint_tool(files, tmp_path):
    """tools/convert_checkpoint.py writes our layout, reports the mapping and verifies it."""
    out = tmp_path / 'converted.safetensors'
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'convert_checkpoint.py'),
                           files['official_12_6'], str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'official' in proc.stdout and 'verified' in proc.stdout
    assert detect_format(read_checkpoint(str(out))) == 'swinv2_mm'
    a = load(files['official_12_6'], window_size=16, pretrained_window_sizes=(12, 12, 12, 6))
    b = load(out, window_size=16, pretrained_window_sizes=(12, 12, 12, 6))
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    # The converted file remembers the position-bias windows: the check still applies.
    with pytest.raises(CheckpointError, match=r'\[12, 12, 12, 6\]'):
        load(out, window_size=16)


def test_convert_checkpoint_tool_refuses_bad_input(tmp_path):
    path = tmp_path / 'junk.pth'
    path.write_bytes(b'junk')
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'convert_checkpoint.py'),
                           str(path), str(tmp_path / 'out.safetensors')],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert 'Accepted:' in proc.stderr and 'Traceback' not in proc.stderr
