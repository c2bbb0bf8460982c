"""``tools/test.py CONFIG segtools://NAME``: PyTorch-Encoding's ``verify.py`` for a published classifier.

A narrow stand-in for ``resnet50s-<sha1[:8]>.zip`` (PyTorch-Encoding's layout, a bare state dict
with ``fc``) is served from 127.0.0.1 as the store names it; the ImageNet config, narrowed to fit
it, evaluates four bundled slices listed with labels. Two labels are the source model's own top-1
(computed with the reimplemented source model, not with segtools' converted one) and two are its
least likely class, so top-1 and top-5 must both be exactly 50.
"""

import importlib.util
import io
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate

from segtools.registry import MODELS
from segtools.utils import register_all_modules

from ..test_weights.test_converters._source_models import SourceResNet, randomize
from ..test_weights.test_store import _republish, home, server  # noqa: F401  (fixtures)

REPO = Path(__file__).resolve().parents[2]
SLICES = REPO / 'data' / 'brain_atlas' / 'img_dir' / 'val'
CONFIG = f"""
_base_ = {str(REPO / 'configs' / 'resnest' / 'resnest50_8xb32-270e_imagenet.py')!r}
# The stand-in file is a narrow resnet50s (deep stem 4-4-8, base width 8): c4 has 256 channels.
model = dict(
    backbone=dict(_delete_=True, type='ResNetV1c', depth=50, stem_channels=8, base_channels=8, out_indices=(3,)),
    head=dict(in_channels=256),
)
test_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root='{{root}}', data_prefix=dict(img_path='val'), ann_file='val.txt'),
)
test_evaluator = dict(type='TopKAccuracyMetric', topk=(1, 5))
"""


def _test_module():
    spec = importlib.util.spec_from_file_location('segtools_tools_test', REPO / 'tools' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_published_classifier_is_scored_through_the_store_name(tmp_path, server, home, monkeypatch):  # noqa: F811
    register_all_modules()
    source = randomize(SourceResNet(stem_width=4, base=8, num_classes=1000)).float().eval()
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    path = _republish(server, monkeypatch, buffer.getvalue(), 'resnet50s_imagenet', 'resnet50s')

    root = tmp_path / 'imagenet'
    (root / 'val').mkdir(parents=True)
    names = sorted(p.name for p in SLICES.glob('*.png'))[:4]
    for name in names:
        (root / 'val' / name).write_bytes((SLICES / name).read_bytes())
    config = tmp_path / 'resnet50s_imagenet_narrow.py'
    config.write_text(CONFIG.replace('{root}', str(root)))

    # The source model's scores on exactly what the test pipeline and preprocessor give it.
    cfg = Config.fromfile(config)
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    preprocessor = MODELS.build(dict(cfg.model.data_preprocessor, num_classes=1000))
    batch = pseudo_collate([pipeline(dict(img_path=str(root / 'val' / name), gt_label=0)) for name in names])
    with torch.no_grad():
        logits = source.double().logits(preprocessor(batch)['inputs'].double())
    labels = [int(logits[0].argmax()), int(logits[1].argmax()), int(logits[2].argmin()), int(logits[3].argmin())]
    (root / 'val.txt').write_text(''.join(f'{name} {label}\n' for name, label in zip(names, labels, strict=True)))

    metrics = _test_module().main([str(config), 'segtools://resnet50s_imagenet', '--work-dir', str(tmp_path / 'work')])
    assert server.requests == [path]
    assert metrics['top1'] == 50.0 and metrics['top5'] == 50.0
