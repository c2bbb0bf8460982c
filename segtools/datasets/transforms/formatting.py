"""Formatting transforms: turn a sample dict into model inputs and a data sample."""

import warnings

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from segtools.registry import TRANSFORMS
from segtools.structures import ClsDataSample, SegDataSample

DEFAULT_META_KEYS = (
    'img_path',
    'seg_map_path',
    'ori_shape',
    'img_shape',
    'pad_shape',
    'scale_factor',
    'flip',
    'flip_direction',
    'reduce_zero_label',
)
CLS_META_KEYS = ('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction')


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """``(H, W)`` or ``(H, W, C)`` array -> ``(C, H, W)`` tensor of the same dtype."""
    if img.ndim == 2:
        img = img[..., None]
    # ascontiguousarray first: flips and crops leave negative/odd strides torch cannot wrap.
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class PackSegInputs(BaseTransform):
    """Pack the image and label map for the data preprocessor and the model.

    Returns ``dict(inputs, data_samples)``:

    - ``inputs``: ``(C, H, W)`` tensor with the image's dtype (uint8 after
      loading); normalisation happens in the data preprocessor.
    - ``data_samples``: a :class:`SegDataSample` whose ``gt_sem_seg`` is a
      ``(1, H, W)`` int64 :class:`PixelData` (when ``gt_seg_map`` is present)
      and whose ``metainfo`` holds the ``meta_keys`` present in ``results``.

    Args:
        meta_keys: Keys of ``results`` copied to the data sample's metainfo.
    """

    def __init__(self, meta_keys: tuple[str, ...] = DEFAULT_META_KEYS) -> None:
        super().__init__()
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        inputs = image_to_tensor(results['img'])
        data_sample = SegDataSample()
        seg = results.get('gt_seg_map')
        if seg is not None:
            if seg.ndim == 2:
                seg = seg[None]
            else:
                warnings.warn(
                    f'gt_seg_map of {results.get("seg_map_path")!r} has shape {seg.shape}, expected (H, W)',
                    stacklevel=2,
                )
            data_sample.gt_sem_seg = PixelData(data=torch.from_numpy(seg.astype(np.int64)))

        data_sample.set_metainfo({key: results[key] for key in self.meta_keys if key in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'


@TRANSFORMS.register_module()
class PackClsInputs(BaseTransform):
    """Pack the image and class label for the classification preprocessor and model.

    Returns ``dict(inputs, data_samples)``:

    - ``inputs``: ``(C, H, W)`` tensor with the image's dtype (uint8, BGR after loading);
      channel order and normalisation are the data preprocessor's business.
    - ``data_samples``: a :class:`ClsDataSample` whose ``gt_label`` is the int64 ``(1,)``
      tensor of ``results['gt_label']`` (what ``ImageFolderDataset`` puts in each sample),
      when present, and whose ``metainfo`` holds the ``meta_keys`` present in ``results``.

    Args:
        meta_keys: Keys of ``results`` copied to the data sample's metainfo.
    """

    def __init__(self, meta_keys: tuple[str, ...] = CLS_META_KEYS) -> None:
        super().__init__()
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        inputs = image_to_tensor(results['img'])
        data_sample = ClsDataSample()
        if results.get('gt_label') is not None:
            data_sample.gt_label = results['gt_label']
        data_sample.set_metainfo({key: results[key] for key in self.meta_keys if key in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
