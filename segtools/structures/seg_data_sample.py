"""The data sample that carries one image's labels and predictions."""

from mmengine.structures import BaseDataElement, PixelData


class SegDataSample(BaseDataElement):
    """One image's semantic-segmentation annotations and predictions.

    Fields (each a :class:`mmengine.structures.PixelData` holding ``data`` of
    shape ``(C, H, W)``):

    - ``gt_sem_seg``: ground truth, ``(1, H, W)`` long labels (255 = ignore).
    - ``pred_sem_seg``: prediction, ``(1, H, W)`` long labels.
    - ``seg_logits``: logits at the original image size, ``(num_classes, H, W)``.

    Meta information (``img_path``, ``seg_map_path``, ``ori_shape``, ``img_shape``,
    ``pad_shape``, ``padding_size``, ``scale_factor``, ``flip``,
    ``flip_direction``, ``reduce_zero_label``) travels in ``metainfo``.
    """

    @property
    def gt_sem_seg(self) -> PixelData:
        return self._gt_sem_seg

    @gt_sem_seg.setter
    def gt_sem_seg(self, value: PixelData) -> None:
        self.set_field(value, '_gt_sem_seg', dtype=PixelData)

    @gt_sem_seg.deleter
    def gt_sem_seg(self) -> None:
        del self._gt_sem_seg

    @property
    def pred_sem_seg(self) -> PixelData:
        return self._pred_sem_seg

    @pred_sem_seg.setter
    def pred_sem_seg(self, value: PixelData) -> None:
        self.set_field(value, '_pred_sem_seg', dtype=PixelData)

    @pred_sem_seg.deleter
    def pred_sem_seg(self) -> None:
        del self._pred_sem_seg

    @property
    def seg_logits(self) -> PixelData:
        return self._seg_logits

    @seg_logits.setter
    def seg_logits(self, value: PixelData) -> None:
        self.set_field(value, '_seg_logits', dtype=PixelData)

    @seg_logits.deleter
    def seg_logits(self) -> None:
        del self._seg_logits
