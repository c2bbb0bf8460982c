"""The data preprocessor of classifiers: device, channel order, normalisation, stacking, Mixup/CutMix."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from segtools.registry import MODELS
from segtools.structures import ClsSampleList

from .data_preprocessor import BatchAugment


@MODELS.register_module()
class ClsDataPreProcessor(BaseDataPreprocessor):
    """Moves a classification batch to the device, normalises and stacks it, mixes it in training.

    Steps: ``cast_data`` -> stack (every image of a batch must have one size: the pipeline
    crops, e.g. ``ERandomCrop``/``ECenterCrop``) -> BGR<->RGB for 3-channel images -> float
    -> ``(x - mean) / std`` -> in training only, when there are ``batch_augments``: each
    sample's ``gt_label`` one-hot encoded into ``gt_score`` ``(num_classes,)``, then the
    augments (``Mixup``, ``CutMix``) called in order as ``inputs, data_samples =
    augment(inputs, data_samples)`` (the protocol of ``SegDataPreProcessor.batch_augments``);
    they mix images and ``gt_score``, which the heads then train on with a soft-target loss.

    Args:
        mean: Per-channel mean, one value or one per channel, in input units (0-255).
        std: Per-channel std, same length as ``mean``.
        bgr_to_rgb: Reverse the channel order of 3-channel images (they are loaded BGR).
        rgb_to_bgr: Same operation, named for the other direction; set at most one.
        num_classes: Length of the one-hot targets; needed with ``batch_augments``.
            ``ImageClassifier`` fills it from its head's ``num_classes`` when not given.
        batch_augments: Callables, or configs of registered ones (``dict(type='Mixup',
            alpha=0.2)``, ``dict(type='CutMix', alpha=1.0)``), applied in training only.
        non_blocking: Copy to the device without blocking.
    """

    def __init__(
        self,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        bgr_to_rgb: bool = False,
        rgb_to_bgr: bool = False,
        num_classes: int | None = None,
        batch_augments: Sequence[BatchAugment | dict] | None = None,
        non_blocking: bool = False,
    ) -> None:
        super().__init__(non_blocking)
        name = type(self).__name__
        if bgr_to_rgb and rgb_to_bgr:
            raise ValueError(f'{name}: set at most one of bgr_to_rgb and rgb_to_bgr (both reverse channels)')
        self.swap_channels = bgr_to_rgb or rgb_to_bgr

        if (mean is None) != (std is None):
            raise ValueError(f'{name}: give both mean and std or neither, got mean={mean}, std={std}')
        self.normalize = mean is not None
        if self.normalize:
            if len(mean) != len(std) or len(mean) == 0:
                raise ValueError(f'{name}: mean and std must have the same non-zero length, got {mean} and {std}')
            if any(s <= 0 for s in std):
                raise ValueError(f'{name}: std must be positive, got {list(std)}')
            # Buffers, so that they follow the preprocessor to the model's device.
            self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), persistent=False)
            self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), persistent=False)

        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)):
            raise TypeError(f'{name}: num_classes must be an int, got {num_classes!r}')
        if num_classes is not None and num_classes < 1:
            raise ValueError(f'{name}: num_classes must be >= 1, got {num_classes}')
        self.num_classes = num_classes
        self.batch_augments: list[BatchAugment] = []
        for i, augment in enumerate(batch_augments or []):
            augment = MODELS.build(augment) if isinstance(augment, dict) else augment
            if not callable(augment):
                raise TypeError(f'{name}: batch_augments[{i}] is not callable: {augment!r}')
            self.batch_augments.append(augment)
        if self.batch_augments and num_classes is None:
            raise ValueError(
                f"{name}: batch_augments mix one-hot targets and need num_classes (the head's num_classes); "
                'ImageClassifier fills it in from model.head.num_classes'
            )

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocesses a collated batch.

        Args:
            data: ``dict(inputs=[(C, H, W) tensors] or (N, C, H, W) tensor,
                data_samples=[ClsDataSample] or None)``.
            training: Apply ``batch_augments``.

        Returns:
            ``dict(inputs=(N, C, H, W) float tensor, data_samples=...)``; in training with
            batch augments every sample carries a mixed ``gt_score``.
        """
        name = type(self).__name__
        data = self.cast_data(data)
        inputs, data_samples = data['inputs'], data.get('data_samples')
        if isinstance(inputs, torch.Tensor) and inputs.dim() == 4:
            batch = inputs
        else:
            inputs = list(inputs)
            if not inputs:
                raise ValueError(f'{name}: the batch has no inputs')
            shapes = {tuple(img.shape) for img in inputs}
            if len(shapes) != 1 or len(next(iter(shapes))) != 3:
                raise ValueError(
                    f'{name}: the images of a batch must be (C, H, W) of one size, got shapes {sorted(shapes)}; '
                    'crop or resize them in the pipeline (ERandomCrop, ECenterCrop)'
                )
            batch = torch.stack(inputs)
        if data_samples is not None and len(data_samples) != batch.shape[0]:
            raise ValueError(f'{name}: {batch.shape[0]} inputs but {len(data_samples)} data samples in the batch')
        batch = self._normalize(batch)

        if training and self.batch_augments:
            if data_samples is None:
                raise ValueError(f'{name}: batch_augments mix labels, but the training batch has no data samples')
            self._one_hot_targets(data_samples)
            for augment in self.batch_augments:
                batch, data_samples = augment(batch, data_samples)
        return dict(inputs=batch, data_samples=data_samples)

    def _normalize(self, batch: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` batch of any dtype -> float, channels swapped if asked, normalised."""
        if self.swap_channels and batch.shape[1] == 3:
            batch = batch.flip(1)
        batch = batch.float()
        if self.normalize:
            if self.mean.shape[0] not in (1, batch.shape[1]):
                raise ValueError(
                    f'{type(self).__name__}: mean/std have {self.mean.shape[0]} values but the images have '
                    f'{batch.shape[1]} channels'
                )
            batch = (batch - self.mean) / self.std
        return batch

    def _one_hot_targets(self, data_samples: ClsSampleList) -> None:
        """Sets ``gt_score = one_hot(gt_label)`` on the samples that have no ``gt_score`` yet."""
        name = type(self).__name__
        pending = [sample for sample in data_samples if 'gt_score' not in sample]
        if not pending:
            return
        unlabelled = [
            i for i, sample in enumerate(data_samples) if 'gt_score' not in sample and 'gt_label' not in sample
        ]
        if unlabelled:
            raise ValueError(f'{name}: samples {unlabelled} of the batch have neither gt_label nor gt_score')
        labels = torch.cat([sample.gt_label for sample in pending])
        outside = (labels < 0) | (labels >= self.num_classes)
        if outside.any():  # one host sync per batch
            j = int(outside.nonzero()[0])
            where = pending[j].metainfo.get('img_path', 'a sample')
            raise ValueError(
                f'{name}: gt_label {int(labels[j])} of {where} is outside [0, {self.num_classes - 1}] '
                f'(num_classes={self.num_classes})'
            )
        for sample, score in zip(pending, F.one_hot(labels, self.num_classes).float(), strict=True):
            sample.gt_score = score
