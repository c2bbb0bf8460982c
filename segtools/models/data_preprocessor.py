"""The data preprocessor of segmentors: device, channel order, normalisation, batched padding."""

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import PixelData

from segtools.constants import IGNORE_INDEX
from segtools.registry import MODELS
from segtools.structures import SampleList, SegDataSample

BatchAugment = Callable[[torch.Tensor, SampleList], tuple[torch.Tensor, SampleList]]
TEST_CFG_KEYS = ('size', 'size_divisor')


def _pair(name: str, value: int | Sequence[int] | None) -> tuple[int, int] | None:
    """``None``, an int or an ``(h, w)`` pair -> ``None`` or an ``(h, w)`` tuple of positive ints."""
    if value is None:
        return None
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ValueError(f'SegDataPreProcessor: {name} must be a positive int or an (h, w) pair, got {value!r}')
    return pair


def _padded_size(
    shapes: Sequence[tuple[int, int]], size: tuple[int, int] | None, size_divisor: tuple[int, int] | None
) -> tuple[int, int]:
    """The common size of a batch: the largest image, at least ``size``, rounded up to ``size_divisor``."""
    height = max(h for h, _ in shapes)
    width = max(w for _, w in shapes)
    if size is not None:
        height, width = max(height, size[0]), max(width, size[1])
    if size_divisor is not None:
        height = -(-height // size_divisor[0]) * size_divisor[0]
        width = -(-width // size_divisor[1]) * size_divisor[1]
    return height, width


@MODELS.register_module()
class SegDataPreProcessor(BaseDataPreprocessor):
    """Moves a batch to the device, normalises it and pads it into one tensor.

    MMSegmentation's preprocessor, with two fixes: images of different sizes are
    padded to a common size at test time too (so validation can run with batch
    size > 1; each sample records its own ``padding_size`` so the segmentor crops
    it away), and ``batch_augments`` is a list that is applied in order.

    Steps: ``cast_data`` -> BGR<->RGB for 3-channel images -> float ->
    ``(x - mean) / std`` -> pad right/bottom (image ``pad_val``, labels
    ``seg_pad_val``) to the largest image of the batch, at least ``size``, rounded
    up to ``size_divisor`` -> stack -> ``batch_augments`` (training only).

    Each data sample gains the metainfo ``img_shape`` (unpadded ``(h, w)``),
    ``pad_shape`` and ``batch_input_shape`` (padded ``(H, W)``) and
    ``padding_size`` (``(left, right, top, bottom)`` pixels).

    Args:
        mean: Per-channel mean, one value or one per channel, in input units (0-255).
        std: Per-channel std, same length as ``mean``.
        size: Training: pad every batch to at least this ``(h, w)`` (usually the crop size).
        size_divisor: Training: round the padded size up to a multiple of this.
        pad_val: Padding value of images (before normalisation it would be a colour;
            padding happens after it, so 0 is the mean colour).
        seg_pad_val: Padding value of the label maps (the ignore index).
        bgr_to_rgb: Reverse the channel order of 3-channel images.
        rgb_to_bgr: Same operation, named for the other direction; set at most one.
        batch_augments: Callables (or configs of registered ones) called in order as
            ``inputs, data_samples = augment(inputs, data_samples)`` during training.
        test_cfg: ``dict(size=..., size_divisor=...)`` used instead of ``size`` and
            ``size_divisor`` at test time. Without it, a test batch is padded only as
            much as stacking images of different sizes needs.
        non_blocking: Copy to the device without blocking.
    """

    def __init__(
        self,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        size: int | Sequence[int] | None = None,
        size_divisor: int | Sequence[int] | None = None,
        pad_val: float = 0,
        seg_pad_val: int = IGNORE_INDEX,
        bgr_to_rgb: bool = False,
        rgb_to_bgr: bool = False,
        batch_augments: Sequence[BatchAugment | dict] | None = None,
        test_cfg: dict | None = None,
        non_blocking: bool = False,
    ) -> None:
        super().__init__(non_blocking)
        if bgr_to_rgb and rgb_to_bgr:
            raise ValueError(
                'SegDataPreProcessor: set at most one of bgr_to_rgb and rgb_to_bgr (both reverse channels)'
            )
        self.swap_channels = bgr_to_rgb or rgb_to_bgr

        if (mean is None) != (std is None):
            raise ValueError(f'SegDataPreProcessor: give both mean and std or neither, got mean={mean}, std={std}')
        self.normalize = mean is not None
        if self.normalize:
            if len(mean) != len(std) or len(mean) == 0:
                raise ValueError(
                    f'SegDataPreProcessor: mean and std must have the same non-zero length, got '
                    f'mean={list(mean)} ({len(mean)} values), std={list(std)} ({len(std)} values)'
                )
            if any(s <= 0 for s in std):
                raise ValueError(f'SegDataPreProcessor: std must be positive, got {list(std)}')
            # Buffers, so that they follow the preprocessor to the model's device.
            self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), persistent=False)
            self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), persistent=False)

        test_cfg = dict(test_cfg or {})
        unknown = sorted(set(test_cfg) - set(TEST_CFG_KEYS))
        if unknown:
            raise ValueError(f'SegDataPreProcessor: unknown test_cfg keys {unknown}; expected some of {TEST_CFG_KEYS}')
        self.size = _pair('size', size)
        self.size_divisor = _pair('size_divisor', size_divisor)
        self.test_size = _pair('test_cfg.size', test_cfg.get('size'))
        self.test_size_divisor = _pair('test_cfg.size_divisor', test_cfg.get('size_divisor'))
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

        self.batch_augments: list[BatchAugment] = []
        for i, augment in enumerate(batch_augments or []):
            augment = MODELS.build(augment) if isinstance(augment, dict) else augment
            if not callable(augment):
                raise TypeError(f'SegDataPreProcessor: batch_augments[{i}] is not callable: {augment!r}')
            self.batch_augments.append(augment)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocesses a collated batch.

        Args:
            data: ``dict(inputs=[(C, H_i, W_i) tensors] or (N, C, H, W) tensor,
                data_samples=[SegDataSample] or None)``.
            training: Use the training padding and apply ``batch_augments``.

        Returns:
            ``dict(inputs=(N, C, H, W) float tensor, data_samples=...)`` with the
            samples' metainfo recorded (and, in training, their labels padded).
        """
        data = self.cast_data(data)
        inputs = list(data['inputs'])
        data_samples = data.get('data_samples')
        if not inputs:
            raise ValueError('SegDataPreProcessor: the batch has no inputs')
        if data_samples is not None and len(data_samples) != len(inputs):
            raise ValueError(
                f'SegDataPreProcessor: {len(inputs)} inputs but {len(data_samples)} data samples in the batch'
            )
        inputs = [self._normalize(img) for img in inputs]

        size, size_divisor = (self.size, self.size_divisor) if training else (self.test_size, self.test_size_divisor)
        shapes = [tuple(img.shape[-2:]) for img in inputs]
        height, width = _padded_size(shapes, size, size_divisor)
        padded = []
        for i, (img, (h, w)) in enumerate(zip(inputs, shapes, strict=True)):
            padding = (0, width - w, 0, height - h)  # F.pad order: left, right, top, bottom
            padded.append(F.pad(img, padding, value=self.pad_val))
            if data_samples is not None:
                self._pad_sample(data_samples[i], (h, w), (height, width), padding, pad_label=training)
        batch = torch.stack(padded)

        if training:
            for augment in self.batch_augments:
                batch, data_samples = augment(batch, data_samples)
        return dict(inputs=batch, data_samples=data_samples)

    def _normalize(self, img: torch.Tensor) -> torch.Tensor:
        """``(C, H, W)`` image of any dtype -> float, channels swapped if asked, normalised."""
        if img.dim() != 3:
            raise ValueError(f'SegDataPreProcessor: each input must be (C, H, W), got shape {tuple(img.shape)}')
        if self.swap_channels and img.shape[0] == 3:
            img = img.flip(0)
        img = img.float()
        if self.normalize:
            if self.mean.shape[0] not in (1, img.shape[0]):
                raise ValueError(
                    f'SegDataPreProcessor: mean/std have {self.mean.shape[0]} values but the image has '
                    f'{img.shape[0]} channels'
                )
            img = (img - self.mean) / self.std
        return img

    def _pad_sample(
        self,
        sample: SegDataSample,
        img_shape: tuple[int, int],
        pad_shape: tuple[int, int],
        padding: tuple,
        pad_label: bool,
    ) -> None:
        """Records the shapes in the sample's metainfo and, in training, pads its label map like its image.

        At test time the label map stays as loaded: test pipelines load it after any resize, at
        the original size, which is where ``postprocess_result`` puts the predictions (mmseg's rule).
        """
        # A property, not a field name: `'gt_sem_seg' in sample` would look for '_gt_sem_seg'.
        if pad_label and hasattr(sample, 'gt_sem_seg'):
            gt = sample.gt_sem_seg.data
            if tuple(gt.shape[-2:]) != img_shape:
                raise ValueError(
                    f'SegDataPreProcessor: label map {tuple(gt.shape[-2:])} and image {img_shape} differ in size '
                    f'(img_path={sample.metainfo.get("img_path")})'
                )
            sample.gt_sem_seg = PixelData(data=F.pad(gt, padding, value=self.seg_pad_val))
        sample.set_metainfo(
            dict(img_shape=img_shape, pad_shape=pad_shape, batch_input_shape=pad_shape, padding_size=padding)
        )
