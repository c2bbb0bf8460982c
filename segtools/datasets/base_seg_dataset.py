"""Base class of the semantic-segmentation datasets (mmseg 1.x ``BaseSegDataset`` conventions)."""

import os.path as osp
from collections.abc import Mapping, Sequence

from mmengine import fileio
from mmengine.dataset import BaseDataset

from segtools.constants import IGNORE_INDEX
from segtools.datasets.validation import (
    DatasetError,
    DatasetNotFoundError,
    format_values,
    layout_hint,
    resolve_num_samples,
    sample_indices,
    validate_seg_sample,
)
from segtools.palettes import generate_palette
from segtools.registry import DATASETS


@DATASETS.register_module()
class BaseSegDataset(BaseDataset):
    """Image folder + index-mask folder dataset for semantic segmentation.

    Entries come from ``ann_file`` (a split list, one basename per line, suffixes
    appended) or, without one, from a recursive scan of ``data_prefix['img_path']``
    for ``img_suffix`` (the mask path swaps the folder and the suffix). Each entry is
    ``dict(img_path, seg_map_path, label_map, reduce_zero_label, seg_fields=[])``.

    Passing a subset of ``METAINFO['classes']`` in ``metainfo`` builds ``label_map``
    (old id -> new id; classes left out -> ``ignore_index``) and selects the matching
    palette entries.

    When the dataset is fully initialised it checks the layout (missing folders,
    split files and files raise :class:`DatasetNotFoundError` naming the path, the
    expected layout and the converter) and decodes an evenly spaced sample of
    entries (unreadable images, colour masks, size mismatches and out-of-range
    labels raise :class:`DatasetError`).

    Args:
        ann_file: Split list, relative to ``data_root`` unless absolute; ``''`` scans the image folder.
        img_suffix: Image file suffix.
        seg_map_suffix: Mask file suffix.
        metainfo: Overrides of ``METAINFO`` (``classes`` subset, ``palette``).
        data_root: Root joined to relative ``ann_file`` and ``data_prefix`` paths.
        data_prefix: ``dict(img_path=..., seg_map_path=...)`` folders.
        filter_cfg: mmengine filter config (unused by the base class).
        indices: Keep only these entries (or the first N).
        serialize_data: Hold the entry list as one numpy byte buffer (cheap worker forks).
        pipeline: Transforms applied in ``__getitem__``.
        test_mode: Test split: a missing mask folder is allowed (no annotations).
        lazy_init: Defer loading and validation until first access.
        max_refetch: Retries when the pipeline returns ``None``.
        ignore_index: Label value skipped by losses and metrics.
        reduce_zero_label: Masks are 1-based with 0 = unlabelled (0 -> ignore, v -> v-1).
        backend_args: mmengine file backend arguments.
        validate: ``True`` (16 sampled entries), ``False``, or ``dict(num_samples=N)``.
    """

    METAINFO: dict = dict()
    # Shown in "missing data" errors; subclasses describe their folders and name their converter script.
    LAYOUT: str | None = None
    CONVERTER: str | None = None

    def __init__(
        self,
        ann_file: str = '',
        img_suffix: str = '.jpg',
        seg_map_suffix: str = '.png',
        metainfo: Mapping | None = None,
        data_root: str = '',
        data_prefix: Mapping[str, str] | None = None,
        filter_cfg: dict | None = None,
        indices: int | Sequence[int] | None = None,
        serialize_data: bool = True,
        pipeline: Sequence[dict | object] = (),
        test_mode: bool = False,
        lazy_init: bool = False,
        max_refetch: int = 1000,
        ignore_index: int = IGNORE_INDEX,
        reduce_zero_label: bool = False,
        backend_args: dict | None = None,
        validate: bool | dict = True,
    ) -> None:
        if data_prefix is None:
            data_prefix = dict(img_path='', seg_map_path='')
        unknown = set(data_prefix) - {'img_path', 'seg_map_path'}
        if unknown:
            raise TypeError(f'data_prefix got unknown keys {sorted(unknown)}; expected img_path and seg_map_path')
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.backend_args = backend_args.copy() if backend_args else None
        self.num_validate_samples = resolve_num_samples(validate)
        # The base class loads metainfo and joins paths; initialisation proper waits until
        # label_map exists, because load_data_list puts it in every entry.
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix={'img_path': '', 'seg_map_path': '', **data_prefix},
            filter_cfg=filter_cfg,
            indices=indices,
            serialize_data=serialize_data,
            pipeline=list(pipeline),
            test_mode=test_mode,
            lazy_init=True,
            max_refetch=max_refetch,
        )
        new_classes = self._metainfo.get('classes')
        self.label_map = self.get_label_map(new_classes, self.ignore_index)
        self._metainfo.update(
            label_map=self.label_map, reduce_zero_label=self.reduce_zero_label, palette=self._update_palette()
        )
        if not lazy_init:
            self.full_init()

    @classmethod
    def get_label_map(
        cls, new_classes: Sequence[str] | None, ignore_index: int = IGNORE_INDEX
    ) -> dict[int, int] | None:
        """Map ids of ``METAINFO['classes']`` to ids in the subset ``new_classes``.

        Args:
            new_classes: The classes to keep, in their new order.
            ignore_index: Id given to the classes left out.

        Returns:
            ``{old_id: new_id}``, or ``None`` when the classes are unchanged.
        """
        old_classes = cls.METAINFO.get('classes')
        if new_classes is None or old_classes is None or list(new_classes) == list(old_classes):
            return None
        missing = [c for c in new_classes if c not in old_classes]
        if missing:
            raise ValueError(
                f'metainfo classes {format_values(missing)} are not classes of {cls.__name__}; '
                f'choose a subset of {format_values(old_classes)}'
            )
        return {
            i: (list(new_classes).index(c) if c in new_classes else ignore_index) for i, c in enumerate(old_classes)
        }

    def _update_palette(self) -> list[list[int]]:
        """The palette for the active classes: given, subset through label_map, or generated."""
        classes = self._metainfo.get('classes') or ()
        palette = self._metainfo.get('palette') or []
        if len(palette) == len(classes):
            return [list(c) for c in palette]
        if self.label_map is not None and len(palette) == len(self.METAINFO.get('classes', ())):
            new_palette = [[0, 0, 0]] * len(classes)
            for old_id, new_id in self.label_map.items():
                if new_id != self.ignore_index:
                    new_palette[new_id] = list(palette[old_id])
            return new_palette
        return generate_palette(len(classes))

    @property
    def num_classes(self) -> int:
        """Number of classes after any subset."""
        return len(self._metainfo.get('classes') or ())

    def _missing(self, what: str, path: str) -> DatasetNotFoundError:
        return DatasetNotFoundError(
            f'{type(self).__name__}: {what} {path!r} does not exist.' + layout_hint(self.LAYOUT, self.CONVERTER)
        )

    def _basenames_from_ann_file(self) -> list[str]:
        if not fileio.exists(self.ann_file, backend_args=self.backend_args):
            raise self._missing('split file (ann_file)', self.ann_file)
        names = [line.strip() for line in fileio.get_text(self.ann_file, backend_args=self.backend_args).splitlines()]
        names = [n for n in names if n]
        if not names:
            raise DatasetError(
                f'{type(self).__name__}: split file {self.ann_file!r} is empty; expected one basename per line'
            )
        return names

    def _list_files(self, folder: str) -> list[str]:
        """Every file under ``folder``, relative to it; listing once beats one ``exists`` call per entry."""
        return sorted(fileio.list_dir_or_file(folder, list_dir=False, recursive=True, backend_args=self.backend_args))

    def _basenames_from_scan(self, img_dir: str, files: list[str]) -> list[str]:
        names = [f[: -len(self.img_suffix)] for f in files if f.endswith(self.img_suffix)]
        if not names:
            found = sorted({osp.splitext(f)[1] or f for f in files})
            raise DatasetNotFoundError(
                f'{type(self).__name__}: image folder {img_dir!r} has no files ending in img_suffix='
                f'{self.img_suffix!r} (it holds {len(files)} files; suffixes found: {format_values(found)}).'
                + layout_hint(self.LAYOUT, self.CONVERTER)
            )
        return names

    def _raise_if_missing(self, kind: str, missing: list[str], total: int, suffix: str) -> None:
        if missing:
            raise DatasetNotFoundError(
                f'{type(self).__name__}: {len(missing)} of {total} {kind} are missing ({suffix}): '
                f'{format_values(missing, limit=5)}.' + layout_hint(self.LAYOUT, self.CONVERTER)
            )

    def load_data_list(self) -> list[dict]:
        """Build the entries from the split file or a scan of the image folder, checking that files exist.

        Returns:
            One dict per sample: ``img_path``, ``seg_map_path``, ``label_map``,
            ``reduce_zero_label``, ``seg_fields``.
        """
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path', '')
        if not img_dir or not fileio.isdir(img_dir, backend_args=self.backend_args):
            raise self._missing('image folder (data_prefix.img_path)', img_dir)
        img_files = self._list_files(img_dir)
        if self.ann_file:
            names = self._basenames_from_ann_file()
            present = set(img_files)
            missing = [osp.join(img_dir, n + self.img_suffix) for n in names if n + self.img_suffix not in present]
            self._raise_if_missing('images', missing, len(names), f'img_suffix={self.img_suffix!r}')
        else:
            names = self._basenames_from_scan(img_dir, img_files)

        has_ann_dir = bool(ann_dir) and fileio.isdir(ann_dir, backend_args=self.backend_args)
        if not has_ann_dir and not self.test_mode:
            raise self._missing('segmentation map folder (data_prefix.seg_map_path)', ann_dir)
        # Test splits may come without annotations; then only the images are checked.
        self._check_masks = has_ann_dir
        if has_ann_dir:
            present = set(self._list_files(ann_dir))
            missing = [
                osp.join(ann_dir, n + self.seg_map_suffix) for n in names if n + self.seg_map_suffix not in present
            ]
            self._raise_if_missing('segmentation maps', missing, len(names), f'seg_map_suffix={self.seg_map_suffix!r}')

        return [
            dict(
                img_path=osp.join(img_dir, name + self.img_suffix),
                seg_map_path=osp.join(ann_dir, name + self.seg_map_suffix),
                label_map=self.label_map,
                reduce_zero_label=self.reduce_zero_label,
                seg_fields=[],
            )
            for name in names
        ]

    def get_data_info(self, idx: int) -> dict:
        """The entry of sample ``idx``, plus what ``LoadAnnotations`` needs to check its mask.

        ``num_classes`` and ``ignore_index`` let the loading transform reject a mask with
        out-of-range labels per sample (one cheap pass), beyond the sample checked at build
        time, so a bad label never reaches a loss as a device-side assert.
        """
        info = super().get_data_info(idx)
        classes = self.metainfo.get('classes')
        if classes:
            info['num_classes'] = len(classes)
        info['ignore_index'] = self.ignore_index
        return info

    def full_init(self) -> None:
        """Load the entries (mmengine), then decode and check a sample of them."""
        if self._fully_initialized:
            return
        super().full_init()
        self.validate_samples(self.num_validate_samples)

    def validate_samples(self, num_samples: int) -> None:
        """Decode ``num_samples`` evenly spaced entries and check images, masks and label values.

        Args:
            num_samples: How many entries to read; 0 does nothing.
        """
        for idx in sample_indices(len(self), num_samples):
            validate_seg_sample(
                self.get_data_info(idx),
                num_classes=self.num_classes,
                ignore_index=self.ignore_index,
                backend_args=self.backend_args,
                check_mask=getattr(self, '_check_masks', True),
            )
