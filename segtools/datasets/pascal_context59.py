"""Pascal Context without background, 59 classes."""

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.datasets.pascal_context import PASCAL_CONTEXT59_CLASSES, PASCAL_CONTEXT_LAYOUT, PascalContextDataset
from segtools.registry import DATASETS


@DATASETS.register_module()
class PascalContextDataset59(BaseSegDataset):
    """Pascal Context, 59 classes, background ignored (the PyTorch-Encoding / mmseg benchmark setting).

    Reads the same 60-value masks as :class:`PascalContextDataset`;
    ``reduce_zero_label=True`` turns background (0) into 255 and class k into k-1.
    The palette is the 60-class palette without its background entry.

    Args:
        img_suffix: Image suffix.
        seg_map_suffix: Mask suffix.
        reduce_zero_label: Keep ``True``: background is ignored.
        **kwargs: Forwarded to :class:`BaseSegDataset`.
    """

    METAINFO = dict(classes=PASCAL_CONTEXT59_CLASSES, palette=PascalContextDataset.METAINFO['palette'][1:])
    LAYOUT = PASCAL_CONTEXT_LAYOUT
    CONVERTER = 'pascal_context'

    def __init__(
        self, img_suffix: str = '.jpg', seg_map_suffix: str = '.png', reduce_zero_label: bool = True, **kwargs
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )
