"""ImageNet-style recognition dataset: one sub-folder per class."""

import os.path as osp
from collections.abc import Mapping, Sequence

from mmengine import fileio
from mmengine.dataset import BaseDataset

from segtools.datasets.validation import (
    DatasetError,
    DatasetNotFoundError,
    format_values,
    layout_hint,
    read_image,
    resolve_num_samples,
    sample_indices,
)
from segtools.registry import DATASETS

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


@DATASETS.register_module()
class ImageFolderDataset(BaseDataset):
    """Images in class folders (``<img_path>/<class>/<file>``) -> ``dict(img_path, gt_label)``.

    Classes come from ``metainfo['classes']`` (or ``METAINFO``) when given, in that
    order; otherwise they are the sorted folder names. With ``ann_file`` the entries
    come from a list instead of a scan: one ``<relative path> [label]`` per line,
    relative to ``data_prefix['img_path']``; without a label, the parent folder name
    is the class.

    Args:
        ann_file: Optional list file, relative to ``data_root`` unless absolute.
        metainfo: ``classes`` (and anything else) overriding ``METAINFO``.
        data_root: Root joined to relative ``ann_file`` and ``data_prefix`` paths.
        data_prefix: ``dict(img_path=...)``, the folder holding the class folders.
        extensions: File suffixes counted as images (case-insensitive).
        indices: Keep only these entries (or the first N).
        serialize_data: Hold the entry list as one numpy byte buffer.
        pipeline: Transforms applied in ``__getitem__``.
        test_mode: Test split.
        lazy_init: Defer loading and validation until first access.
        max_refetch: Retries when the pipeline returns ``None``.
        backend_args: mmengine file backend arguments.
        validate: ``True`` (decode 16 sampled images), ``False``, or ``dict(num_samples=N)``.
    """

    METAINFO: dict = dict()
    LAYOUT: str | None = """\
<data_root>/<img_path>/<class name>/*.jpg   (one folder per class, e.g. ILSVRC2012/train/n01440764/*.JPEG)"""
    CONVERTER: str | None = None

    def __init__(
        self,
        ann_file: str = '',
        metainfo: Mapping | None = None,
        data_root: str = '',
        data_prefix: Mapping[str, str] | None = None,
        extensions: Sequence[str] = IMG_EXTENSIONS,
        indices: int | Sequence[int] | None = None,
        serialize_data: bool = True,
        pipeline: Sequence[dict | object] = (),
        test_mode: bool = False,
        lazy_init: bool = False,
        max_refetch: int = 1000,
        backend_args: dict | None = None,
        validate: bool | dict = True,
    ) -> None:
        data_prefix = {'img_path': '', **(data_prefix or {})}
        if set(data_prefix) != {'img_path'}:
            raise TypeError(
                f'data_prefix got unknown keys {sorted(set(data_prefix) - {"img_path"})}; expected img_path'
            )
        self.extensions = tuple(e.lower() for e in extensions)
        self.backend_args = backend_args.copy() if backend_args else None
        self.num_validate_samples = resolve_num_samples(validate)
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            indices=indices,
            serialize_data=serialize_data,
            pipeline=list(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch,
        )

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names, index = label."""
        return tuple(self._metainfo.get('classes') or ())

    def _missing(self, what: str, path: str) -> DatasetNotFoundError:
        return DatasetNotFoundError(
            f'{type(self).__name__}: {what} {path!r} does not exist.' + layout_hint(self.LAYOUT, self.CONVERTER)
        )

    def _is_image(self, path: str) -> bool:
        return path.lower().endswith(self.extensions)

    def _entries_from_scan(self, img_dir: str) -> list[tuple[str, str | int]]:
        files = sorted(fileio.list_dir_or_file(img_dir, list_dir=False, recursive=True, backend_args=self.backend_args))
        entries = [(f, f.split('/')[0]) for f in files if self._is_image(f) and '/' in f]
        if not entries:
            raise DatasetNotFoundError(
                f'{type(self).__name__}: {img_dir!r} has no images inside class folders (extensions '
                f'{format_values(self.extensions)}; it holds {len(files)} files).'
                + layout_hint(self.LAYOUT, self.CONVERTER)
            )
        return entries

    def _entries_from_ann_file(self) -> list[tuple[str, str | int]]:
        if not fileio.exists(self.ann_file, backend_args=self.backend_args):
            raise self._missing('list file (ann_file)', self.ann_file)
        entries = []
        for line_no, line in enumerate(fileio.get_text(self.ann_file, backend_args=self.backend_args).splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) > 2 or (len(parts) == 2 and not parts[1].lstrip('-').isdigit()):
                raise DatasetError(
                    f'{self.ann_file}:{line_no}: expected "<path> [integer label]", got {line.strip()!r}'
                )
            rel = parts[0]
            entries.append((rel, int(parts[1]) if len(parts) == 2 else osp.basename(osp.dirname(rel))))
        if not entries:
            raise DatasetError(f'{type(self).__name__}: list file {self.ann_file!r} is empty')
        return entries

    def load_data_list(self) -> list[dict]:
        """Scan the class folders (or read ``ann_file``) and check the files and labels.

        Returns:
            One ``dict(img_path, gt_label)`` per image.
        """
        img_dir = self.data_prefix['img_path']
        if not fileio.isdir(img_dir or '.', backend_args=self.backend_args):
            raise self._missing('image folder (data_prefix.img_path)', img_dir)
        entries = self._entries_from_ann_file() if self.ann_file else self._entries_from_scan(img_dir)

        if not self.classes:
            # No class list given: the sorted folder names define the labels, as torchvision's ImageFolder does.
            self._metainfo['classes'] = tuple(sorted({c for _, c in entries if isinstance(c, str)}))
        class_to_idx = {c: i for i, c in enumerate(self.classes)}
        num_classes = len(self.classes)

        data_list, unknown, out_of_range = [], [], []
        for rel, cls in entries:
            label = class_to_idx.get(cls, -1) if isinstance(cls, str) else cls
            if isinstance(cls, str) and label < 0:
                unknown.append(cls)
            elif not 0 <= label < num_classes:
                out_of_range.append(label)
            data_list.append(dict(img_path=osp.join(img_dir, rel), gt_label=label))
        if unknown:
            raise DatasetError(
                f'{type(self).__name__}: folders {format_values(sorted(set(unknown)))} under {img_dir!r} are not '
                f'classes of this dataset; expected one of {format_values(self.classes)}'
            )
        if out_of_range:
            raise DatasetError(
                f'{self.ann_file}: labels {format_values(sorted(set(out_of_range)))} are outside [0, {num_classes - 1}]'
            )
        if self.ann_file:
            present = set(
                fileio.list_dir_or_file(img_dir, list_dir=False, recursive=True, backend_args=self.backend_args)
            )
            missing = [osp.join(img_dir, rel) for rel, _ in entries if rel not in present]
            if missing:
                raise DatasetNotFoundError(
                    f'{type(self).__name__}: {len(missing)} of {len(entries)} images listed in {self.ann_file!r} are '
                    f'missing: {format_values(missing, limit=5)}.' + layout_hint(self.LAYOUT, self.CONVERTER)
                )
        return data_list

    def full_init(self) -> None:
        """Load the entries (mmengine), then decode a sample of the images."""
        if self._fully_initialized:
            return
        super().full_init()
        for idx in sample_indices(len(self), self.num_validate_samples):
            read_image(self.get_data_info(idx)['img_path'], self.backend_args)
