"""Tests of SegVisualizationHook with a minimal runner: when it draws, what and where."""

from types import SimpleNamespace
from unittest.mock import MagicMock

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

from segtools.engine.hooks.seg_visualization_hook import SegVisualizationHook
from segtools.registry import HOOKS
from segtools.structures import SegDataSample
from segtools.visualization.seg_local_visualizer import SegLocalVisualizer


@pytest.fixture
def image_file(tmp_path):
    bgr = np.zeros((6, 5, 3), dtype=np.uint8)
    bgr[..., 0] = 10  # blue
    bgr[..., 2] = 250  # red
    path = tmp_path / 'case_07.png'
    cv2.imwrite(str(path), bgr)
    return path


def _outputs(image_file, count: int = 1) -> list[SegDataSample]:
    samples = []
    for _ in range(count):
        sample = SegDataSample(metainfo=dict(img_path=str(image_file)))
        sample.gt_sem_seg = PixelData(data=torch.zeros(1, 6, 5, dtype=torch.long))
        sample.pred_sem_seg = PixelData(data=torch.ones(1, 6, 5, dtype=torch.long))
        samples.append(sample)
    return samples


def _runner(tmp_path, visualizer=None):
    return SimpleNamespace(visualizer=visualizer or MagicMock(), work_dir=str(tmp_path / 'work'), iter=7)


def _build(**kwargs) -> SegVisualizationHook:
    with DefaultScope.overwrite_default_scope('segtools'):
        return HOOKS.build(dict(type='SegVisualizationHook', **kwargs))


def test_val_draws_every_interval_th_iteration_via_backends(tmp_path, image_file):
    hook = _build(draw=True, interval=3)
    runner = _runner(tmp_path)
    for batch_idx in range(8):
        hook.after_val_iter(runner, batch_idx, data_batch={}, outputs=_outputs(image_file, count=2))
    calls = runner.visualizer.add_datasample.call_args_list
    assert len(calls) == 3 * 2  # iterations 0, 3, 6; both samples of each batch
    for call in calls:
        name, image = call.args
        assert name == 'val_case_07.png'
        assert image.shape == (6, 5, 3)
        assert image[0, 0].tolist() == [250, 0, 10]  # re-read from img_path, RGB
        assert call.kwargs['out_file'] is None and call.kwargs['step'] == 7
        assert call.kwargs['data_sample'].img_path == str(image_file)


def test_test_mode_writes_to_work_dir_vis_data(tmp_path, image_file):
    hook = _build(draw=True, interval=2)
    runner = _runner(tmp_path)
    for batch_idx in range(3):
        hook.after_test_iter(runner, batch_idx, data_batch={}, outputs=_outputs(image_file))
    calls = runner.visualizer.add_datasample.call_args_list
    assert len(calls) == 2
    assert calls[0].args[0] == 'test_case_07.png'
    assert calls[0].kwargs['out_file'] == str(tmp_path / 'work' / 'vis_data' / 'case_07.png')


def test_test_mode_writes_to_out_dir_when_given(tmp_path, image_file):
    hook = _build(draw=True, interval=1, out_dir=str(tmp_path / 'shown'))
    runner = _runner(tmp_path)
    hook.after_test_iter(runner, 0, data_batch={}, outputs=_outputs(image_file))
    assert runner.visualizer.add_datasample.call_args.kwargs['out_file'] == str(tmp_path / 'shown' / 'case_07.png')


def test_no_drawing_in_training_or_when_draw_is_false(tmp_path, image_file):
    runner = _runner(tmp_path)
    _build(draw=True, interval=1).after_train_iter(runner, 0, data_batch={}, outputs={'loss': 1.0})
    off = _build(interval=1)
    assert off.draw is False
    off.after_val_iter(runner, 0, data_batch={}, outputs=_outputs(image_file))
    off.after_test_iter(runner, 0, data_batch={}, outputs=_outputs(image_file))
    runner.visualizer.add_datasample.assert_not_called()


def test_with_the_real_visualizer_the_overlay_file_appears(tmp_path, image_file):
    visualizer = SegLocalVisualizer(name='hook_test_visualizer', classes=('a', 'b'), palette=[[0, 0, 0], [0, 255, 0]])
    hook = _build(draw=True, interval=1)
    hook.after_test_iter(_runner(tmp_path, visualizer), 0, data_batch={}, outputs=_outputs(image_file))
    drawn = cv2.imread(str(tmp_path / 'work' / 'vis_data' / 'case_07.png'))
    assert drawn.shape == (6, 15, 3)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='interval'):
        SegVisualizationHook(interval=0)
    with pytest.raises(TypeError, match='intervall'):
        _build(intervall=3)
