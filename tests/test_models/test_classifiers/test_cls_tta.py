"""ClsTTAModel: the views' probabilities averaged, through mmengine's BaseTTAModel.test_step."""

import torch
from mmengine.registry import DefaultScope

import segtools.models  # noqa: F401  (registration)
from segtools.registry import MODELS
from segtools.structures import ClsDataSample

CLASSIFIER = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet', depth=18, base_channels=8, stem_channels=8, norm_cfg=dict(type='BN'), out_indices=(3,)
    ),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=4, in_channels=64),
)


def view(image: torch.Tensor, flip: bool) -> tuple[torch.Tensor, ClsDataSample]:
    sample = ClsDataSample(metainfo=dict(img_path='a.png', flip=flip, flip_direction='horizontal'))
    sample.gt_label = 2
    return (image.flip(-1) if flip else image), sample


def test_views_are_averaged():
    with DefaultScope.overwrite_default_scope('segtools'):
        tta = MODELS.build(dict(type='ClsTTAModel', module=CLASSIFIER)).eval()
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    views = [view(image, flip) for flip in (False, True)]
    # A TestTimeAug pipeline collates to one list of inputs and samples per view.
    data = dict(inputs=[[img] for img, _ in views], data_samples=[[sample] for _, sample in views])
    with torch.no_grad():
        fused = tta.test_step(data)
        singles = [tta.module.test_step(dict(inputs=[img]))[0] for img, _ in views]
    assert len(fused) == 1
    expected = (singles[0].pred_score + singles[1].pred_score) / 2
    torch.testing.assert_close(fused[0].pred_score, expected)
    assert fused[0].pred_label.tolist() == [int(expected.argmax())] and int(fused[0].gt_label) == 2
    assert fused[0].metainfo == dict(img_path='a.png')
