"""Tests of SegLocalVisualizer: panel layout, overlay colours, outputs and errors."""

import itertools

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

from segtools.registry import VISUALIZERS
from segtools.structures import SegDataSample
from segtools.visualization.seg_local_visualizer import SegLocalVisualizer

CLASSES = ('sky', 'tree', 'road')
PALETTE = [[200, 10, 10], [10, 200, 10], [10, 10, 200]]
H, W = 12, 16
_names = itertools.count()


def _visualizer(**kwargs) -> SegLocalVisualizer:
    # ManagerMixin instances are global by name: a fresh name per test keeps tests independent.
    cfg = dict(type='SegLocalVisualizer', name=f'test_vis_{next(_names)}', classes=CLASSES, palette=PALETTE, **kwargs)
    with DefaultScope.overwrite_default_scope('segtools'):
        return VISUALIZERS.build(cfg)


def _sample(rng: np.random.Generator, with_pred: bool = True) -> tuple[np.ndarray, SegDataSample]:
    image = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    gt = rng.integers(0, 3, size=(1, H, W))
    gt[:, :3, :4] = 255
    sample = SegDataSample(metainfo=dict(img_path='some/dir/img_01.jpg'))
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt))
    if with_pred:
        sample.pred_sem_seg = PixelData(data=torch.from_numpy(rng.integers(0, 3, size=(1, H, W))))
    return image, sample


def _expected_overlay(image: np.ndarray, label: np.ndarray, alpha: float) -> np.ndarray:
    colors = np.asarray(PALETTE, dtype=np.float64)
    out = image.copy()
    valid = label != 255
    out[valid] = np.round((1 - alpha) * image[valid] + alpha * colors[label[valid]]).astype(np.uint8)
    return out


@pytest.mark.parametrize('alpha', [0.5, 1.0])
def test_three_panels_side_by_side_with_class_colours(alpha):
    image, sample = _sample(np.random.default_rng(0))
    drawn = _visualizer().add_datasample('x', image, sample, with_labels=False, alpha=alpha)
    assert drawn.shape == (H, 3 * W, 3) and drawn.dtype == np.uint8
    image_panel, gt_panel, pred_panel = np.split(drawn, 3, axis=1)
    np.testing.assert_array_equal(image_panel, image)
    gt = sample.gt_sem_seg.data[0].numpy()
    pred = sample.pred_sem_seg.data[0].numpy()
    # Integer rounding of the blend may differ by one grey level from the float formula.
    assert np.abs(gt_panel.astype(int) - _expected_overlay(image, gt, alpha)).max() <= 1
    assert np.abs(pred_panel.astype(int) - _expected_overlay(image, pred, alpha)).max() <= 1
    if alpha == 1.0:
        for class_id, color in enumerate(PALETTE):
            assert (gt_panel[gt == class_id] == color).all()
    np.testing.assert_array_equal(gt_panel[gt == 255], image[gt == 255])  # ignore keeps the image


def test_panels_follow_draw_flags_and_available_fields():
    rng = np.random.default_rng(1)
    image, sample = _sample(rng, with_pred=False)
    vis = _visualizer()
    assert vis.add_datasample('a', image, sample).shape == (H, 2 * W, 3)
    image, sample = _sample(rng)
    assert vis.add_datasample('b', image, sample, draw_gt=False).shape == (H, 2 * W, 3)
    assert vis.add_datasample('c', image, sample, draw_gt=False, draw_pred=False).shape == (H, W, 3)
    assert vis.add_datasample('d', image, None).shape == (H, W, 3)
    np.testing.assert_array_equal(vis.get_image(), image)


def test_grayscale_image_is_replicated():
    image, sample = _sample(np.random.default_rng(2))
    drawn = _visualizer().add_datasample('g', image[..., 0], sample, with_labels=False)
    for channel in range(3):
        np.testing.assert_array_equal(drawn[:, :W, channel], image[..., 0])


def test_class_names_are_written_inside_their_region():
    image = np.full((60, 80, 3), 128, dtype=np.uint8)
    label = np.full((1, 60, 80), 255)
    label[:, 15:45, 20:70] = 1
    sample = SegDataSample(gt_sem_seg=PixelData(data=torch.from_numpy(label)))
    vis = _visualizer()
    plain = vis.add_datasample('p', image, sample, draw_pred=False, with_labels=False)
    named = vis.add_datasample('n', image, sample, draw_pred=False, with_labels=True)
    changed = np.any(plain[:, 80:] != named[:, 80:], axis=2)
    changed[:12] = False  # the panel title
    ys, xs = np.nonzero(changed)
    assert ys.size > 0
    # The name is centred on the region's innermost point, (y, x) = (30, 45).
    assert abs(ys.mean() - 30) < 6 and abs(xs.mean() - 45) < 8


def test_out_file_and_backend_outputs(tmp_path):
    image, sample = _sample(np.random.default_rng(3))
    vis = _visualizer(vis_backends=[dict(type='LocalVisBackend')], save_dir=str(tmp_path))
    drawn = vis.add_datasample('val_img', image, sample, step=4)
    saved = cv2.imread(str(tmp_path / 'vis_data' / 'vis_image' / 'val_img_4.png'))
    np.testing.assert_array_equal(saved[..., ::-1], drawn)

    out_file = tmp_path / 'out' / 'overlay.png'
    drawn = vis.add_datasample('other', image, sample, out_file=str(out_file))
    np.testing.assert_array_equal(cv2.imread(str(out_file))[..., ::-1], drawn)
    assert not (tmp_path / 'vis_data' / 'vis_image' / 'other_0.png').exists()


def test_dataset_meta_from_dataset_name_and_runner_style_assignment():
    vis = SegLocalVisualizer(name=f'test_vis_{next(_names)}', dataset_name='voc')
    assert len(vis.dataset_meta['classes']) == 21 and len(vis.dataset_meta['palette']) == 21
    vis.dataset_meta = dict(classes=CLASSES, palette=PALETTE)
    image, sample = _sample(np.random.default_rng(4))
    assert vis.add_datasample('m', image, sample).shape == (H, 3 * W, 3)


def test_errors_name_the_problem():
    rng = np.random.default_rng(5)
    image, sample = _sample(rng)
    bare = SegLocalVisualizer(name=f'test_vis_{next(_names)}')
    with pytest.raises(ValueError, match='dataset_meta'):
        bare.add_datasample('e', image, sample)
    with pytest.raises(ValueError, match=r'img_01\.jpg.*\(12, 16\)'):
        _visualizer().add_datasample('e', image[:-2], sample)
    with pytest.raises(ValueError, match='alpha'):
        _visualizer().add_datasample('e', image, sample, alpha=1.5)
    sample.gt_sem_seg = PixelData(data=torch.full((1, H, W), 7))
    with pytest.raises(ValueError, match=r'\[7\]'):
        _visualizer().add_datasample('e', image, sample)
    with pytest.raises(KeyError, match='mars'):
        SegLocalVisualizer(name=f'test_vis_{next(_names)}', dataset_name='mars')
