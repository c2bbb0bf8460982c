"""Recognition on the bundled brain-MRI data: which structure lies at the centre of a patch."""

import os.path as osp
from collections.abc import Mapping, Sequence

import numpy as np
from mmengine import fileio
from mmengine.dataset import BaseDataset

from segtools.datasets.brain_atlas import BrainAtlasDataset
from segtools.datasets.validation import DatasetError, DatasetNotFoundError, layout_hint, read_mask
from segtools.registry import DATASETS

ATLAS_CLASSES = BrainAtlasDataset.METAINFO['classes']


@DATASETS.register_module()
class BrainAtlasPatchDataset(BaseDataset):
    """Patches of the bundled brain-MRI slices, labelled with the atlas class at their centre.

    A real recognition task on data the project ships (``data/brain_atlas``, see
    :class:`BrainAtlasDataset`): patch centres lie on a regular grid of ``stride`` pixels over
    every slice of the split, and a centre whose atlas class is in ``classes`` becomes one sample
    ``dict(img_path, crop_center=(y, x), gt_label)``. The patch itself is cut by the pipeline
    (``LoadImageFromFile`` then ``CropAroundCenter``), so training can jitter it. Train and val are
    the atlas's own split: the val slices are a contiguous slab the training slices do not touch.

    Args:
        data_root: Root of the bundled dataset (``data/brain_atlas``).
        data_prefix: ``dict(img_path=..., seg_map_path=...)`` of the split.
        stride: Distance in pixels between neighbouring patch centres.
        margin: Centres closer than this to the slice border are skipped.
        metainfo: ``dict(classes=...)``: the atlas classes to recognise, in label order
            (default: every class but background).
        pipeline: Transforms.
        test_mode: mmengine's flag.
        lazy_init: mmengine's flag.
        serialize_data: mmengine's flag.
        max_refetch: mmengine's flag.
    """

    METAINFO = dict(classes=ATLAS_CLASSES[1:])
    LAYOUT = """\
<data_root>/  (brain_atlas, shipped with segtools)
    img_dir/{train,val}/colin27_axial_<z>.png
    ann_dir/{train,val}/colin27_axial_<z>.png   (atlas class ids 0..11)"""

    def __init__(
        self,
        data_root: str = 'data/brain_atlas',
        data_prefix: Mapping[str, str] | None = None,
        stride: int = 8,
        margin: int = 8,
        metainfo: Mapping | None = None,
        pipeline: Sequence[dict] = (),
        test_mode: bool = False,
        lazy_init: bool = False,
        serialize_data: bool = True,
        max_refetch: int = 1000,
    ) -> None:
        if stride < 1 or margin < 0:
            raise DatasetError(f'BrainAtlasPatchDataset: stride must be >= 1 and margin >= 0, got {stride}, {margin}')
        prefix = {'img_path': 'img_dir/train', 'seg_map_path': 'ann_dir/train', **(data_prefix or {})}
        self.stride, self.margin = stride, margin
        super().__init__(
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=prefix,
            pipeline=list(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            serialize_data=serialize_data,
            max_refetch=max_refetch,
        )

    def load_data_list(self) -> list[dict]:
        """One entry per grid point whose atlas class is one of the dataset's classes."""
        classes = tuple(self.metainfo['classes'])
        unknown = [name for name in classes if name not in ATLAS_CLASSES]
        if unknown:
            raise DatasetError(
                f'BrainAtlasPatchDataset: {unknown} are not atlas classes; expected some of {ATLAS_CLASSES}'
            )
        atlas_to_label = np.full(256, -1, dtype=np.int64)
        for label, name in enumerate(classes):
            atlas_to_label[ATLAS_CLASSES.index(name)] = label
        img_dir, ann_dir = self.data_prefix['img_path'], self.data_prefix['seg_map_path']
        for folder in (img_dir, ann_dir):
            if not osp.isdir(folder):
                raise DatasetNotFoundError(
                    f'BrainAtlasPatchDataset: folder {folder!r} does not exist.' + layout_hint(self.LAYOUT, None)
                )
        names = sorted(name for name in fileio.list_dir_or_file(ann_dir, list_dir=False) if name.endswith('.png'))
        data_list = []
        for name in names:
            labels = atlas_to_label[read_mask(osp.join(ann_dir, name))]
            height, width = labels.shape
            ys, xs = np.mgrid[
                self.margin : height - self.margin : self.stride, self.margin : width - self.margin : self.stride
            ]
            for y, x in zip(ys.ravel().tolist(), xs.ravel().tolist(), strict=True):
                if labels[y, x] >= 0:
                    data_list.append(
                        dict(img_path=osp.join(img_dir, name), crop_center=(y, x), gt_label=int(labels[y, x]))
                    )
        if not data_list:
            raise DatasetError(
                f'BrainAtlasPatchDataset: no patch centre of {ann_dir!r} has one of the classes {classes}'
            )
        return data_list
