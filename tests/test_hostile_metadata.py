"""Hostile pretrained-weights files: a corrupted coordinate table, config.json or safetensors
metadata (and odd tensor shapes or key names) end in the loader's CheckpointError, which names
the file and the field, never in a raw ValueError / OverflowError / ZeroDivisionError /
TypeError / IndexError / KeyError traceback. Each case corrupts one field of a valid file and
loads it as a user does (load_pretrained, init_cfg, tools/convert_checkpoint.py)."""
import json
import reprlib
import shutil

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from reference_models import save_all_formats, timm_model, transformers_backbone
from swinv2_mm.checkpoint import CheckpointError, load_pretrained
from swinv2_mm.checkpoint.export import convert_file
from swinv2_mm.models import SwinTransformerV2

ARCH = dict(embed_dims=32, depths=(1, 1, 2, 1), num_heads=(1, 2, 4, 8))
TABLE = 'layers.0.blocks.0.attn.relative_coords_table'  # official names; 15x15 at window 8
NAN, INF = float('nan'), float('inf')


def model(**kwargs):
    return SwinTransformerV2(embed_dims=32, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8],
                             window_size=8, **kwargs)


@pytest.fixture(scope='module')
def valid(tmp_path_factory):
    """One small set of weights in the three layouts that record their windows: official
    (coordinate tables), transformers (config.json beside the weights), ours (metadata)."""
    root = tmp_path_factory.mktemp('valid')
    torch.manual_seed(0)
    official = save_all_formats(timm_model((256, 256), 8, arch=ARCH), str(root))['official']
    transformers_backbone((256, 256), 8, arch=ARCH).save_pretrained(root / 'hf')
    convert_file(official, str(root / 'ours.safetensors'))
    return dict(official=official, hf=root / 'hf', ours=str(root / 'ours.safetensors'))


def official_with(valid, tmp_path, **replace):
    state = torch.load(valid['official'], weights_only=True)['model']
    state.update(replace)
    path = tmp_path / 'swinv2_official.pth'
    torch.save({'model': state}, path)
    return path


def transformers_with(valid, tmp_path, text):
    shutil.copy(valid['hf'] / 'model.safetensors', tmp_path / 'model.safetensors')
    (tmp_path / 'config.json').write_text(text)
    return tmp_path


def ours_with(valid, tmp_path, windows):
    with safe_open(valid['ours'], framework='pt') as f:
        metadata = dict(f.metadata())
        state = {k: f.get_tensor(k) for k in f.keys()}
    path = tmp_path / 'ours.safetensors'
    save_file(state, path, metadata=dict(metadata, pretrained_window_sizes=windows))
    return path


def assert_refused(path, *names):
    """CheckpointError (pytest.raises lets any other exception through: the test fails), in
    one line, naming each of `names` and saying what to do."""
    with pytest.raises(CheckpointError) as e:
        load_pretrained(model(), str(path))
    msg = str(e.value)
    assert '\n' not in msg, msg
    for name in names:
        assert str(name) in msg, (name, msg)
    assert 're-download' in msg, msg
    return msg


@pytest.mark.parametrize('layout', ['official', 'hf', 'ours'])
def test_the_valid_files_load(valid, layout):
    conv = load_pretrained(model(), str(valid[layout]))
    assert not conv.unknown


# --- the stored relative_coords_table -----------------------------------------------------
TABLES = {
    'zeros': torch.zeros(1, 15, 15, 2),  # x = 0: the inversion divides by zero
    'nan': torch.full((1, 15, 15, 2), NAN),
    'inf': torch.full((1, 15, 15, 2), INF),
    '-inf': torch.full((1, 15, 15, 2), -INF),
    'negative': torch.full((1, 15, 15, 2), -0.5),  # a negative window
    'overflowing': torch.full((1, 15, 15, 2), 1e6),  # 2 ** 3e6
    'absurd-window': torch.full((1, 15, 15, 2), 1e-6),  # window 26930280
    'empty': torch.zeros(0),
    'empty-4d': torch.zeros(1, 0, 0, 2),
    'scalar': torch.tensor(1.0),
    '1d': torch.ones(30),
    'last-dim-3': torch.ones(1, 15, 15, 3),
    'even-side': torch.ones(1, 16, 16, 2),
    'integer': torch.ones(1, 15, 15, 2, dtype=torch.int64),
}


@pytest.mark.parametrize('table', TABLES.values(), ids=TABLES.keys())
def test_hostile_coordinate_table(valid, tmp_path, table):
    path = official_with(valid, tmp_path, **{TABLE: table})
    assert_refused(path, path, 'relative_coords_table of stages.0.blocks.0')


# --- config.json beside a transformers file ---------------------------------------------
def _case(field, value, shown=None, **more):
    """A config.json field set to `value` (others too, with `more`); the message must name
    the field and show `shown` (the bad value, default its repr)."""
    return pytest.param(dict(more, **{field: value}), field,
                        reprlib.repr(value) if shown is None else shown,
                        id=f'{field}={value!r}'[:60])


CONFIGS = [
    _case('window_size', 'eight'), _case('window_size', '8'), _case('window_size', [8]),
    _case('window_size', -8), _case('window_size', 0), _case('window_size', True),
    _case('window_size', 10**30), _case('window_size', 8.5), _case('window_size', None),
    _case('window_size', NAN), _case('window_size', INF), _case('window_size', 2000),
    _case('patch_size', 0), _case('patch_size', '4'), _case('patch_size', -4),
    _case('image_size', '256'), _case('image_size', [[256, 256]], '[256, 256]'),
    _case('image_size', -256), _case('image_size', []), _case('image_size', None),
    _case('pretrained_window_sizes', '8,8,8,8'),
    _case('pretrained_window_sizes', {'0': 8}),
    _case('pretrained_window_sizes', [8, 'x', 8, 8], "'x'"),
    _case('pretrained_window_sizes', [8, -8, 8, 8], '-8'),
    _case('pretrained_window_sizes', [8, None, 8, 8], 'None'),
    _case('pretrained_window_sizes', [8, 8, 8, 5000], '5000'),
    _case('pretrained_window_sizes', [8, 8, 8, [8]], '[8]'),
    _case('depths', 4, pretrained_window_sizes=None),
    _case('depths', 'abcd', pretrained_window_sizes=[]),
    _case('depths', {'a': 1}, pretrained_window_sizes=None),
]


@pytest.mark.parametrize('update,field,shown', CONFIGS)
def test_hostile_config_json_field(valid, tmp_path, update, field, shown):
    config = json.loads((valid['hf'] / 'config.json').read_text())
    config.update(update)
    folder = transformers_with(valid, tmp_path, json.dumps(config))
    assert_refused(folder, folder / 'config.json', repr(field), shown)


@pytest.mark.parametrize('text', ['[8, 8]', '5', '"window_size"', '["window_size"]', 'true',
                                  '[]'])
def test_config_json_that_is_not_an_object(valid, tmp_path, text):
    folder = transformers_with(valid, tmp_path, text)
    assert_refused(folder, folder / 'config.json', 'a JSON object')


@pytest.mark.parametrize('text', [b'{"window_size": \xff}', b'{"window_size": ' + b'9' * 5000
                                  + b'}', b'[' * 100000 + b']' * 100000],
                         ids=['not-utf8', '5000-digit-int', 'nested-100000'])
def test_unreadable_config_json_never_escapes_raw(valid, tmp_path, text):
    """An unreadable config.json is ignored (as io.py does with invalid JSON) or refused:
    loading either works or raises CheckpointError, in one line."""
    folder = transformers_with(valid, tmp_path, '')
    (folder / 'config.json').write_bytes(text)
    try:
        load_pretrained(model(), str(folder))
    except CheckpointError as e:
        assert '\n' not in str(e)


# --- our safetensors metadata -----------------------------------------------------------
@pytest.mark.parametrize('windows,shown', [
    ('a,b', "'a'"), ('', "''"), ('1,,2', "''"), ('-3', "'-3'"),
    ('99999999999999999999', "'99999999999999999999'"), ('1e3', "'1e3'"),
    ('8,8,8,2000', '2000'), ('8;8;8;8', "'8;8;8;8'"), (' 8,8,8,8', "' 8'"),
    ('٣,8,8,8', "'٣'"), ('8,8,8,' + '9' * 5000, "'99999"),
], ids=lambda v: repr(v)[:30])
def test_hostile_metadata(valid, tmp_path, windows, shown):
    path = ours_with(valid, tmp_path, windows)
    assert_refused(path, path, "safetensors metadata 'pretrained_window_sizes'", shown)


# --- the other ways in: init_cfg, the convert tool ---------------------------------------
def test_init_cfg_and_convert_tool_give_the_same_error(valid, tmp_path):
    path = official_with(valid, tmp_path, **{TABLE: torch.zeros(1, 15, 15, 2)})
    backbone = model(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(CheckpointError, match='relative_coords_table of stages.0.blocks.0'):
        backbone.init_weights()
    bad = ours_with(valid, tmp_path, '1e3')
    with pytest.raises(CheckpointError, match="metadata 'pretrained_window_sizes'"):
        convert_file(str(bad), str(tmp_path / 'out.safetensors'))
    assert not (tmp_path / 'out.safetensors').exists()


# --- tensor shapes and key names (read while describing a mismatch) -----------------------
@pytest.mark.parametrize('key,value', [
    ('patch_embed.proj.weight', torch.tensor(1.0)),
    ('layers.0.blocks.0.mlp.fc1.weight', torch.zeros(128, 0)),
    ('layers.0.blocks.0.attn.logit_scale', torch.tensor(1.0)),
    ('layers.' + '9' * 5000 + '.blocks.0.mlp.fc1.weight', torch.zeros(1)),
    ('layers.' + '9' * 5000 + '.downsample.norm.weight', torch.zeros(1)),
], ids=['proj-0d', 'fc1-zero-width', 'logit-scale-0d', '5000-digit-block', '5000-digit-stage'])
def test_hostile_shapes_and_keys(valid, tmp_path, key, value):
    with pytest.raises(CheckpointError):  # the mismatch report (several lines, by design)
        load_pretrained(model(), str(official_with(valid, tmp_path, **{key: value})))
