"""The plugin example: a head registered from outside the package, loaded by a config, trains."""

from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmengine.utils import import_modules_from_strings

# Until segtools.models' __init__ imports these packages, the lazy registry lookup does not find them.
import segtools.models.backbones.resnet  # noqa: F401
import segtools.models.data_preprocessor  # noqa: F401
import segtools.models.losses.cross_entropy_loss  # noqa: F401
import segtools.models.segmentors.encoder_decoder  # noqa: F401
from segtools.registry import MODELS
from segtools.structures import SegDataSample

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'projects' / 'example_head' / 'configs' / 'example_head_tiny.py'


def batch(num_classes: int) -> dict:
    torch.manual_seed(0)
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(ori_shape=(32, 32), img_shape=(32, 32)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, 32, 32)))
        samples.append(sample)
    inputs = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in range(2)]
    return dict(inputs=inputs, data_samples=samples)


def test_example_head_config_builds_and_trains_one_step(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))  # tools run from the root, which puts it on sys.path
    cfg = Config.fromfile(CONFIG)
    import_modules_from_strings(**cfg.custom_imports)
    assert MODELS.get('ExampleHead').__module__ == 'projects.example_head.example_head'

    with DefaultScope.overwrite_default_scope('segtools'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    assert type(model.decode_head).__name__ == type(model.auxiliary_head).__name__ == 'ExampleHead'

    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    before = {name: param.detach().clone() for name, param in model.named_parameters()}
    log_vars = model.train()(**model.data_preprocessor(batch(cfg.model.decode_head.num_classes), True), mode='loss')
    assert {'decode.loss_ce', 'decode.acc_seg', 'aux.loss_ce', 'aux.acc_seg'} <= set(log_vars)

    log_vars = model.train_step(batch(cfg.model.decode_head.num_classes), optim_wrapper)
    assert torch.isfinite(log_vars['loss'])
    changed = {name for name, param in model.named_parameters() if not torch.equal(param, before[name])}
    assert {'decode_head.conv_seg.weight', 'auxiliary_head.conv_seg.weight', 'decode_head.conv.conv.weight'} <= changed
    assert any(name.startswith('backbone.') for name in changed)

    results = model.eval().test_step(batch(cfg.model.decode_head.num_classes))
    assert len(results) == 2
    assert results[0].pred_sem_seg.data.shape == (1, 32, 32)
