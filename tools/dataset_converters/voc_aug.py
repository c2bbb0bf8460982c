"""Build Pascal VOC 2012 + SBD ("aug", 10582 training images) masks and split lists for ``PascalVOCDataset``.

Inputs:

* ``--voc``: ``VOCtrainval_11-May-2012.tar`` (sha1 ``4e443f8a...`` checked when the file
  has its official name) or an extracted ``VOCdevkit/VOC2012`` folder.
* ``--sbd``: SBD's ``benchmark.tgz`` (Hariharan et al., ICCV 2011; sha1 ``7129e0a4...``)
  or its extracted ``benchmark_RELEASE`` (or ``benchmark_RELEASE/dataset``) folder,
  holding ``cls/<name>.mat`` and ``train.txt``/``val.txt``.

Output (``--out`` is the VOC2012 ``data_root``; from a tar the ``VOCdevkit/VOC2012/``
members are extracted there, from a folder it is written in place)::

    OUT/JPEGImages/*.jpg, SegmentationClass/*.png, ImageSets/Segmentation/{train,val,trainval}.txt  (VOC)
    OUT/SegmentationClassAug/<name>.png   single-channel, 0..20, 255 = VOC border (built atomically)
    OUT/ImageSets/Segmentation/aug.txt    (SBD train + SBD val + VOC train) minus VOC val, sorted

Masks: an image with a VOC annotation keeps it (finer, with the 255 border); the others
take ``GTcls.Segmentation`` of the SBD ``.mat`` (ids 0..20, no border). Reading ``.mat``
needs scipy (``pip install scipy``), imported only when a ``.mat`` is read. Masks are
written for every aug and VOC val image.

Example::

    python tools/dataset_converters/voc_aug.py --voc VOCtrainval_11-May-2012.tar --sbd benchmark.tgz \\
        --out data/VOCdevkit/VOC2012 --nproc 8
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
from _common import (
    add_nproc_arg,
    atomic_dir,
    extract_archive,
    require_dir,
    require_file,
    run_tasks,
    verify_sha1,
    write_lines_atomic,
    write_png_atomic,
)

VOC_ARCHIVE = 'VOCtrainval_11-May-2012.tar'
SBD_ARCHIVE = 'benchmark.tgz'
KNOWN_SHA1 = {
    VOC_ARCHIVE: '4e443f8a2eca6b1dac8a6c57641b67dd40621a49',
    SBD_ARCHIVE: '7129e0a480c2d6afb02b517bb18ac54283bfaa35',
}  # as published with gluon-cv / PyTorch-Encoding's prepare scripts
NUM_CLASSES = 21
SPLIT_DIR = Path('ImageSets') / 'Segmentation'


def read_sbd_mask(path: Path) -> np.ndarray:
    """``GTcls.Segmentation`` of an SBD ``cls/<name>.mat`` as (H, W) uint8."""
    try:
        from scipy.io import loadmat
    except ImportError as err:
        raise ImportError(f'reading {path} (SBD .mat) needs scipy: pip install scipy') from err
    try:
        mat = loadmat(str(path), squeeze_me=True, struct_as_record=False)
        seg = np.asarray(mat['GTcls'].Segmentation)
    except (KeyError, AttributeError, ValueError) as err:
        raise ValueError(f'{path}: expected an SBD class .mat with GTcls.Segmentation ({err})') from err
    return seg.astype(np.uint8)


def read_voc_mask(path: Path) -> np.ndarray:
    """Indices of a VOC palette PNG (not its colours) as (H, W) uint8."""
    from PIL import Image

    with Image.open(path) as img:
        if img.mode not in ('P', 'L'):
            raise ValueError(f'{path}: PNG mode {img.mode}; expected a palette (P) or grayscale (L) index mask')
        return np.array(img, dtype=np.uint8)


def convert_one(name: str, voc_seg_dir: str, sbd_cls_dir: str, out_dir: str) -> str:
    """Write ``out_dir/<name>.png`` from the VOC PNG if present, else the SBD .mat; return the source used."""
    voc_png = Path(voc_seg_dir) / f'{name}.png'
    mat = Path(sbd_cls_dir) / f'{name}.mat'
    if voc_png.is_file():
        path, mask, source = voc_png, read_voc_mask(voc_png), 'voc'
    elif mat.is_file():
        path, mask, source = mat, read_sbd_mask(mat), 'sbd'
    else:
        raise FileNotFoundError(f'no annotation for {name}: neither {voc_png} nor {mat} exists')
    bad = (mask >= NUM_CLASSES) & (mask != 255)
    if bad.any():
        raise ValueError(f'{path}: label values {np.unique(mask[bad]).tolist()}; expected 0..20 or 255')
    write_png_atomic(Path(out_dir) / f'{name}.png', mask)
    return source


def read_list(path: Path) -> list[str]:
    require_file(path, 'a split list with one image name per line')
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def find_sbd_dataset(folder: Path) -> Path:
    """The SBD folder holding ``cls/`` and ``train.txt`` (``benchmark_RELEASE/dataset`` or given directly)."""
    for candidate in (folder, folder / 'dataset', folder / 'benchmark_RELEASE' / 'dataset'):
        if (candidate / 'cls').is_dir() and (candidate / 'train.txt').is_file():
            return candidate
    raise FileNotFoundError(
        f'{folder}: no SBD dataset folder; expected benchmark_RELEASE/dataset/{{cls/,train.txt,val.txt}}'
    )


def convert(
    voc: Path,
    sbd: Path,
    out: Path | None = None,
    nproc: int = 1,
    sha1_check: bool = True,
    overwrite: bool = False,
) -> dict[str, int]:
    """Build ``SegmentationClassAug`` and ``aug.txt``; return the number of aug images and mask sources."""
    voc, sbd = Path(voc), Path(sbd)
    known = KNOWN_SHA1 if sha1_check else {}
    if not sbd.exists():  # checked before the (long) VOC extraction
        raise FileNotFoundError(f'{sbd} not found; expected {SBD_ARCHIVE} or its extracted benchmark_RELEASE folder')
    if voc.is_file():
        if out is None:
            raise ValueError(f'--out is required when --voc is an archive ({voc})')
        verify_sha1(voc, None, known)
        with atomic_dir(Path(out), overwrite=overwrite) as tmp:
            extract_archive(voc, tmp, strip_prefix='VOCdevkit/VOC2012')
        root = Path(out)
    else:
        root = require_dir(voc, f'{VOC_ARCHIVE} or its extracted VOCdevkit/VOC2012 folder')
        if out is not None and Path(out).resolve() != root.resolve():
            raise ValueError(
                f'--out {out} differs from the VOC folder {voc}; an extracted folder is completed in place'
            )
    require_dir(root / 'JPEGImages', 'VOC2012/JPEGImages')
    voc_train, voc_val = read_list(root / SPLIT_DIR / 'train.txt'), read_list(root / SPLIT_DIR / 'val.txt')

    tmp_sbd = None
    try:
        if sbd.is_file():
            verify_sha1(sbd, None, known)
            tmp_sbd = Path(tempfile.mkdtemp(prefix='.sbd-', dir=root))
            extract_archive(
                sbd, tmp_sbd, select=lambda n: n.endswith(('.mat', 'train.txt', 'val.txt')) and '/dataset/' in f'/{n}'
            )
            sbd_dir = find_sbd_dataset(tmp_sbd)
        else:
            sbd_dir = find_sbd_dataset(require_dir(sbd, f'{SBD_ARCHIVE} or its extracted benchmark_RELEASE folder'))
        sbd_names = read_list(sbd_dir / 'train.txt') + read_list(sbd_dir / 'val.txt')
        aug = sorted((set(sbd_names) | set(voc_train)) - set(voc_val))
        missing = [n for n in aug if not (root / 'JPEGImages' / f'{n}.jpg').is_file()]
        if missing:
            raise FileNotFoundError(f'{root / "JPEGImages"}: {len(missing)} aug images are missing, e.g. {missing[:3]}')
        names = sorted(set(aug) | set(voc_val))
        with atomic_dir(root / 'SegmentationClassAug', overwrite=True) as tmp_out:
            fn = partial(
                convert_one,
                voc_seg_dir=str(root / 'SegmentationClass'),
                sbd_cls_dir=str(sbd_dir / 'cls'),
                out_dir=str(tmp_out),
            )
            sources = run_tasks(fn, names, nproc)
        write_lines_atomic(root / SPLIT_DIR / 'aug.txt', aug)
    finally:
        if tmp_sbd is not None:
            shutil.rmtree(tmp_sbd, ignore_errors=True)
    return dict(aug=len(aug), voc_masks=sources.count('voc'), sbd_masks=sources.count('sbd'))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--voc', type=Path, required=True, help=f'{VOC_ARCHIVE} or the VOCdevkit/VOC2012 folder')
    parser.add_argument('--sbd', type=Path, required=True, help=f'{SBD_ARCHIVE} or the benchmark_RELEASE folder')
    parser.add_argument('--out', type=Path, default=None, help='VOC2012 data root (required with a --voc archive)')
    parser.add_argument('--skip-sha1', action='store_true', help='do not verify the archives against published sha1s')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out when extracting')
    add_nproc_arg(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    stats = convert(args.voc, args.sbd, args.out, args.nproc, sha1_check=not args.skip_sha1, overwrite=args.overwrite)
    print(f'aug.txt: {stats["aug"]} images; masks from VOC {stats["voc_masks"]}, from SBD {stats["sbd_masks"]}')


if __name__ == '__main__':
    main()
