"""Tests of tools/misc/publish_model.py."""

import builtins
import hashlib
import importlib
import re
import sys
from pathlib import Path

import pytest
import torch

MISC = Path(__file__).resolve().parents[2] / 'tools' / 'misc'
if str(MISC) not in sys.path:
    sys.path.insert(0, str(MISC))
publish_model = importlib.import_module('publish_model')


def _trained_checkpoint() -> dict:
    weight = torch.arange(6.0).reshape(2, 3)
    return {
        'meta': {'epoch': 3, 'dataset_meta': {'classes': ('a', 'b')}},
        'state_dict': {'decode_head.conv_seg.weight': weight, 'decode_head.conv_seg.bias': torch.ones(2)},
        'optimizer': {'state': {0: {'momentum_buffer': torch.ones(2, 3)}}, 'param_groups': [{'lr': 0.01}]},
        'param_schedulers': [{'last_step': 10}],
        'message_hub': {'runtime_info': {'iter': 10}},
        'random_state': {'torch': torch.zeros(4, dtype=torch.uint8)},
    }


def test_publish_strips_training_state_and_names_file_by_hash(tmp_path, capsys):
    src = tmp_path / 'iter_10.pth'
    torch.save(_trained_checkpoint(), src)
    assert publish_model.main([str(src), str(tmp_path / 'pub' / 'encnet_ade.pth')]) == 0
    final_line, sha_line = capsys.readouterr().out.strip().splitlines()
    final = Path(final_line)
    sha256 = sha_line.removeprefix('sha256: ')
    assert hashlib.sha256(final.read_bytes()).hexdigest() == sha256
    assert re.fullmatch(r'encnet_ade-[0-9a-f]{8}\.pth', final.name) and final.name == f'encnet_ade-{sha256[:8]}.pth'
    assert final.parent == tmp_path / 'pub'
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name]  # no temporary file left
    published = torch.load(final, weights_only=True)
    assert sorted(published) == ['meta', 'state_dict']
    assert published['meta']['dataset_meta']['classes'] == ('a', 'b')
    torch.testing.assert_close(published['state_dict'], _trained_checkpoint()['state_dict'], rtol=0, atol=0)


def test_published_name_and_bare_state_dict(tmp_path):
    assert publish_model.published_name('d/model.pth', 'abcdef0123') == Path('d/model-abcdef01.pth')
    assert publish_model.published_name('model', 'abcdef0123') == Path('model-abcdef01.pth')
    src = tmp_path / 'bare.pth'
    torch.save({'conv.weight': torch.zeros(1)}, src)
    final, sha256 = publish_model.publish(src, tmp_path / 'bare_pub.pth')
    assert final.name == f'bare_pub-{sha256[:8]}.pth'
    assert list(torch.load(final, weights_only=True)) == ['state_dict']


def test_publish_refuses_non_checkpoint_dict():
    with pytest.raises(ValueError, match='state_dict'):
        publish_model.strip_training_state({'optimizer': {}, 'epoch': 3})


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return builtins.exec, (f'open({str(self.marker)!r}, "w").close()',)


def test_publish_refuses_code_executing_pickle(tmp_path, capsys):
    marker = tmp_path / 'pwned'
    src = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': _RunsCode(marker)}, src)
    assert publish_model.main([str(src), str(tmp_path / 'out.pth')]) == 1
    assert 'Refusing to load' in capsys.readouterr().err
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['evil.pth']
