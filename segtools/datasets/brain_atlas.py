"""The bundled brain-MRI dataset: Colin27 T1 slices labelled with the grouped AAL atlas."""

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.palettes import BRAIN_ATLAS_CLASSES, BRAIN_ATLAS_PALETTE
from segtools.registry import DATASETS


@DATASETS.register_module()
class BrainAtlasDataset(BaseSegDataset):
    """Axial slices of the Colin27 T1 template with 12 classes grouped from the AAL atlas.

    Holmes et al., "Enhancement of MR images using registration for signal averaging",
    JCAT 1998 (the T1 image); Tzourio-Mazoyer et al., "Automated anatomical labeling of
    activations in SPM ...", NeuroImage 2002 (the atlas). Both via Debian's ``mricron-data``.

    The data ships in ``data/brain_atlas`` (written by
    ``tools/dataset_converters/mricron_atlas.py``; see its README for the grouping and the
    block split)::

        data/brain_atlas/img_dir/{train,val}/colin27_axial_<z>.png   (217, 181) uint8 grayscale
        data/brain_atlas/ann_dir/{train,val}/colin27_axial_<z>.png   (217, 181) uint8, values 0..11

    Class 0 (``background``) is a real class, everything the atlas leaves unlabelled (white
    matter, CSF, outside the brain), so ``reduce_zero_label`` defaults to False. Left and right
    hemispheres share classes, so horizontal flips need no label swap. The images are
    single-channel; ``LoadImageFromFile`` in its default colour mode replicates them to 3
    channels.

    Args:
        img_suffix: Suffix of the image files.
        seg_map_suffix: Suffix of the label files.
        reduce_zero_label: Whether to map label 0 to ``ignore_index`` and shift the rest down.
        **kwargs: Forwarded to :class:`BaseSegDataset` (``data_root``, ``data_prefix``,
            ``pipeline``, ``test_mode``, ``metainfo``, ``ignore_index``, ...).
    """

    METAINFO = dict(classes=BRAIN_ATLAS_CLASSES, palette=BRAIN_ATLAS_PALETTE)

    LAYOUT = (
        'data/brain_atlas/\n'
        '  img_dir/{train,val}/colin27_axial_<z>.png  (grayscale T1 slice)\n'
        '  ann_dir/{train,val}/colin27_axial_<z>.png  (class ids 0..11)\n'
        '  classes.json\n'
        'It is committed in the repository; regenerate it with `apt-get install mricron-data` and the converter.'
    )
    CONVERTER = 'mricron_atlas'

    def __init__(
        self,
        img_suffix: str = '.png',
        seg_map_suffix: str = '.png',
        reduce_zero_label: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )
