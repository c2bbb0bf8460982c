"""Tests of the command lines tools/model_converters/{torchvision,encoding,mmseg}2segtools.py.

The conversions themselves are tested in tests/test_weights/test_converters/; these check the
CLI: arguments, the ``--config`` check, refusal of unsafe files, atomic saving.
"""

import builtins
import importlib.util
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

from segtools.registry import MODELS

from ..test_weights.test_converters._mmseg_layout import mmseg_state, small_model_cfg
from ..test_weights.test_converters._source_models import SourceDeepTen, SourceResNet

ROOT = Path(__file__).resolve().parents[2]
CONVERTERS = ROOT / 'tools' / 'model_converters'


def _load(name: str, path: Path, **modules):
    """Imports ``path`` as ``name`` with ``modules`` in ``sys.modules`` meanwhile.

    The scripts' ``from _converter_cli import`` gets this folder's module without putting the
    folder on ``sys.path`` for the rest of the session.
    """
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    with mock.patch.dict(sys.modules, modules):
        spec.loader.exec_module(module)
    return module


cli = _load('_converter_cli', CONVERTERS / '_converter_cli.py')
tv2st = _load('torchvision2segtools', CONVERTERS / 'torchvision2segtools.py', _converter_cli=cli)
enc2st = _load('encoding2segtools', CONVERTERS / 'encoding2segtools.py', _converter_cli=cli)
mmseg2st = _load('mmseg2segtools', CONVERTERS / 'mmseg2segtools.py', _converter_cli=cli)


@pytest.fixture(scope='module')
def resnet50s_state():
    return SourceResNet(stem_width=64).state_dict()


R50S_CONFIG = str(ROOT / 'configs' / 'fcn' / 'fcn_r50s-d8_4xb4-180e_ade20k-480x480.py')


def test_cli_converts_and_checks_against_config(tmp_path, capsys, resnet50s_state):
    src, dst = tmp_path / 'resnet50s.pth', tmp_path / 'out' / 'r50s.pth'
    torch.save(resnet50s_state, src)
    assert enc2st.main([str(src), str(dst), '--arch', 'resnet50s', '--config', R50S_CONFIG]) == 0
    out = capsys.readouterr().out
    assert 'dropped source keys (2)' in out and 'all keys and shapes match' in out
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['source'] == 'PyTorch-Encoding' and saved['meta']['arch'] == 'resnet50s'
    assert torch.equal(saved['state_dict']['stem.7.weight'], resnet50s_state['bn1.weight'])
    assert not list(dst.parent.glob('*.tmp'))


def test_cli_refuses_shape_mismatch_and_writes_nothing(tmp_path, capsys, resnet50s_state):
    state = dict(resnet50s_state)
    state['layer1.0.conv1.weight'] = torch.zeros(65, 128, 1, 1)
    src, dst = tmp_path / 'bad.pth', tmp_path / 'r50s.pth'
    torch.save({'state_dict': state}, src)
    assert enc2st.main([str(src), str(dst), '--arch', 'resnet50s', '--config', R50S_CONFIG]) == 1
    err = capsys.readouterr().err
    assert 'layer1.0.conv1.weight: converted (65, 128, 1, 1) vs model (64, 128, 1, 1)' in err
    assert not dst.exists()


def test_cli_missing_keys_fail_unless_allowed(tmp_path, capsys, resnet50s_state):
    state = {k: v for k, v in resnet50s_state.items() if not k.startswith('layer4.2.')}
    src, dst = tmp_path / 'partial.pth', tmp_path / 'r50s.pth'
    torch.save(state, src)
    assert enc2st.main([str(src), str(dst), '--arch', 'resnet50s', '--config', R50S_CONFIG]) == 1
    assert 'layer4.2.conv1.weight' in capsys.readouterr().out and not dst.exists()
    argv = [str(src), str(dst), '--arch', 'resnet50s', '--config', R50S_CONFIG, '--allow-missing']
    assert enc2st.main(argv) == 0 and dst.exists()


TINY_BACKBONE = "dict(type='ResNetV1c', depth=50, stem_channels=8, base_channels=8, out_indices=(3,))"


def test_cli_converts_a_classifier_keeping_fc_and_checks_it(tmp_path, capsys):
    """``--arch resnet50s:classifier``: ``fc`` kept as ``head.fc`` of an ImageClassifier; ``--config`` checks the
    whole model."""
    state = SourceResNet(stem_width=4, base=8, num_classes=1000).state_dict()
    src, dst = tmp_path / 'resnet50s.pth', tmp_path / 'r50s_in1k.pth'
    torch.save(state, src)
    config = tmp_path / 'r50s_in1k.py'
    config.write_text(
        f"model = dict(type='ImageClassifier', backbone={TINY_BACKBONE}, neck=dict(type='GlobalAveragePooling'), "
        "head=dict(type='LinearClsHead', num_classes=1000, in_channels=256))\n"
    )
    argv = [str(src), str(dst), '--arch', 'resnet50s:classifier', '--config', str(config)]
    assert enc2st.main(argv) == 0
    out = capsys.readouterr().out
    assert 'dropped source keys' not in out and 'all keys and shapes match' in out
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['arch'] == 'resnet50s:classifier'
    assert torch.equal(saved['state_dict']['head.fc.weight'], state['fc.weight'])
    # A plain backbone config lacks the head the classifier has.
    backbone = tmp_path / 'r50s.py'
    backbone.write_text(f'model = {TINY_BACKBONE}\n')
    argv = [str(src), str(tmp_path / 'no.pth'), '--arch', 'resnet50s:classifier', '--config', str(backbone)]
    assert enc2st.main(argv) == 1
    assert 'head.fc.weight' in capsys.readouterr().out and not (tmp_path / 'no.pth').exists()


def test_cli_converts_deepten_and_checks_it_against_the_whole_classifier(tmp_path, capsys):
    state = SourceDeepTen(23, backbone=dict(stem_width=4, base=8), channels=16, ncodes=8).state_dict()
    src, dst = tmp_path / 'deepten_resnet50_minc.pth', tmp_path / 'deepten.pth'
    torch.save(state, src)
    config = tmp_path / 'deepten.py'
    config.write_text(
        f"model = dict(type='ImageClassifier', backbone={TINY_BACKBONE}, "
        "head=dict(type='DeepTENHead', num_classes=23, in_channels=256, channels=16, num_codes=8))\n"
    )
    assert enc2st.main([str(src), str(dst), '--arch', 'deepten_resnet50', '--config', str(config)]) == 0
    out = capsys.readouterr().out
    assert 'dropped source keys (2)' in out and 'all keys and shapes match' in out
    saved = torch.load(dst, weights_only=True)['state_dict']
    assert 'head.conv.conv.bias' not in saved
    assert torch.equal(saved['head.conv.bn.running_mean'], state['head.1.running_mean'] - state['head.0.bias'])


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return builtins.exec, (f'open({str(self.marker)!r}, "w").close()',)


def test_cli_refuses_code_executing_pickle(tmp_path, capsys):
    marker = tmp_path / 'pwned'
    src, dst = tmp_path / 'evil.pth', tmp_path / 'out.pth'
    torch.save({'state_dict': {'conv1.weight': torch.zeros(1)}, 'payload': _RunsCode(marker)}, src)
    assert mmseg2st.main([str(src), str(dst), '--arch', 'fcn']) == 1
    assert 'Refusing to load' in capsys.readouterr().err
    assert not marker.exists() and not dst.exists()


def test_cli_rejects_unknown_arch(tmp_path):
    with pytest.raises(SystemExit) as exc:
        tv2st.main([str(tmp_path / 'a.pth'), str(tmp_path / 'b.pth'), '--arch', 'vgg16'])
    assert exc.value.code == 2


def test_cli_converts_openmmlab_resnet_v1c_backbone(tmp_path, capsys):
    state = {'stem.0.weight': torch.ones(32, 3, 3, 3), 'fc.weight': torch.ones(2, 4), 'fc.bias': torch.zeros(2)}
    src, dst = tmp_path / 'resnet50_v1c.pth', tmp_path / 'r50c.pth'
    torch.save({'state_dict': state}, src)
    assert mmseg2st.main([str(src), str(dst), '--arch', 'resnet_v1c']) == 0
    assert 'dropped source keys (2)' in capsys.readouterr().out
    saved = torch.load(dst, weights_only=True)
    assert saved['state_dict'].keys() == {'stem.0.weight'} and saved['meta']['source'] == 'MMSegmentation'


def test_load_source_state_dict_unwraps_and_names_bad_files(tmp_path):
    path = tmp_path / 'w.pth'
    torch.save({'model': {'module.a.weight': torch.ones(1)}, 'meta': {'x': 1}}, path)
    assert cli.load_source_state_dict(path) == ({'a.weight': torch.ones(1)}, {'x': 1})
    torch.save({'a.weight': torch.ones(1), 'step': 3}, path)
    with pytest.raises(cli.ConversionError, match=r'w\.pth: expected a state dict of tensors'):
        cli.load_source_state_dict(path)


@pytest.mark.parametrize('arch', ['danet', 'jpu_encnet'])
def test_cli_converts_an_mmseg_segmentor_and_checks_it_against_its_config(tmp_path, capsys, arch):
    model_cfg = small_model_cfg(arch)
    config = tmp_path / f'{arch}.py'
    config.write_text(f'model = {model_cfg!r}\n')
    with torch.device('meta'):
        model_state = MODELS.build(small_model_cfg(arch)).state_dict()
    src, dst = tmp_path / 'mmseg.pth', tmp_path / 'segtools.pth'
    torch.save({'state_dict': mmseg_state(arch, model_state), 'meta': {}}, src)
    assert mmseg2st.main([str(src), str(dst), '--arch', arch, '--config', str(config)]) == 0
    assert 'all keys and shapes match' in capsys.readouterr().out
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['arch'] == arch and saved['state_dict'].keys() == model_state.keys()
    # The arch of another head names the keys it has no rule for, and nothing is written.
    assert mmseg2st.main([str(src), str(tmp_path / 'no.pth'), '--arch', 'psp', '--config', str(config)]) == 1
    assert 'psp: no conversion rule for source keys' in capsys.readouterr().err
    assert not (tmp_path / 'no.pth').exists()
