"""PackSegInputs and PackClsInputs: tensor shapes and dtypes, labels and metainfo."""

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

from segtools.datasets.image_folder import ImageFolderDataset
from segtools.datasets.transforms.formatting import CLS_META_KEYS, DEFAULT_META_KEYS, PackClsInputs, PackSegInputs
from segtools.datasets.transforms.geometric import Pad, RandomFlip
from segtools.structures import ClsDataSample, SegDataSample


def make_results(h: int = 6, w: int = 7) -> dict:
    img = np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)
    seg = (np.arange(h * w) % 5).astype(np.uint8).reshape(h, w)
    return dict(
        img=img,
        gt_seg_map=seg,
        seg_fields=['gt_seg_map'],
        img_path='a.jpg',
        seg_map_path='a.png',
        ori_shape=(h, w),
        img_shape=(h, w),
        scale_factor=(1.0, 1.0),
        reduce_zero_label=False,
        unrelated='dropped',
    )


def test_pack_shapes_dtypes_and_meta():
    results = make_results()
    img, seg = results['img'].copy(), results['gt_seg_map'].copy()
    results = RandomFlip(prob=1.0, seed=0)(results)  # leaves a negatively strided view behind
    results = Pad(size=(8, 8))(results)
    packed = PackSegInputs()(results)
    assert set(packed) == {'inputs', 'data_samples'}
    inputs, sample = packed['inputs'], packed['data_samples']
    assert isinstance(sample, SegDataSample)
    assert inputs.shape == (3, 8, 8) and inputs.dtype == torch.uint8
    np.testing.assert_array_equal(inputs[:, :6, :7].numpy(), img[:, ::-1].transpose(2, 0, 1))
    assert isinstance(sample.gt_sem_seg, PixelData)
    gt = sample.gt_sem_seg.data
    assert gt.shape == (1, 8, 8) and gt.dtype == torch.int64
    np.testing.assert_array_equal(gt[0, :6, :7].numpy(), seg[:, ::-1])
    assert (gt[0, 6:] == 255).all()
    meta = sample.metainfo
    assert set(meta) == set(DEFAULT_META_KEYS)
    assert meta['img_path'] == 'a.jpg' and meta['seg_map_path'] == 'a.png'
    assert meta['ori_shape'] == (6, 7) and meta['img_shape'] == (6, 7) and meta['pad_shape'] == (8, 8)
    assert meta['flip'] is True and meta['flip_direction'] == 'horizontal'
    assert meta['scale_factor'] == (1.0, 1.0) and meta['reduce_zero_label'] is False


def test_pack_without_labels_grey_image_and_custom_keys():
    results = make_results()
    del results['gt_seg_map']
    results['img'] = results['img'][..., 0]
    packed = PackSegInputs(meta_keys=('img_path', 'unrelated', 'absent'))(results)
    assert packed['inputs'].shape == (1, 6, 7)
    assert 'gt_sem_seg' not in packed['data_samples']
    assert packed['data_samples'].metainfo == {'img_path': 'a.jpg', 'unrelated': 'dropped'}


def test_pack_cls_inputs_label_image_and_meta():
    img = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    results = dict(img=img[:, ::-1], gt_label=2, img_path='cls/a.png', sample_idx=7, ori_shape=(4, 5), extra='x')
    packed = PackClsInputs()(results)
    inputs, sample = packed['inputs'], packed['data_samples']
    assert isinstance(sample, ClsDataSample)
    assert inputs.shape == (3, 4, 5) and inputs.dtype == torch.uint8  # BGR kept; the preprocessor swaps
    np.testing.assert_array_equal(inputs.numpy(), img[:, ::-1].transpose(2, 0, 1))
    assert sample.gt_label.tolist() == [2] and sample.gt_label.dtype == torch.int64
    assert sample.metainfo == dict(img_path='cls/a.png', sample_idx=7, ori_shape=(4, 5))
    assert set(sample.metainfo) <= set(CLS_META_KEYS)


def test_pack_cls_inputs_without_label_and_grey():
    packed = PackClsInputs(meta_keys=('img_path',))(dict(img=np.zeros((3, 2), np.uint8), img_path=None))
    assert packed['inputs'].shape == (1, 3, 2)
    assert 'gt_label' not in packed['data_samples']


def test_pack_cls_inputs_refuses_a_float_label():
    with pytest.raises(TypeError, match='gt_label'):
        PackClsInputs()(dict(img=np.zeros((2, 2, 3), np.uint8), gt_label=1.5))


def test_image_folder_samples_pack(tmp_path):
    # ImageFolderDataset's gt_label is what PackClsInputs reads.
    for cls in ('a', 'b'):
        (tmp_path / cls).mkdir()
        cv2.imwrite(str(tmp_path / cls / '0.png'), np.full((3, 4, 3), 9, np.uint8))
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackClsInputs')]
    with DefaultScope.overwrite_default_scope('segtools'):
        dataset = ImageFolderDataset(data_prefix=dict(img_path=str(tmp_path)), pipeline=pipeline)
    labels = [int(dataset[i]['data_samples'].gt_label) for i in range(2)]
    assert labels == [0, 1] and dataset[1]['inputs'].shape == (3, 3, 4)
