"""Convert the Colin27 T1 template and the AAL atlas into a 2-D segmentation dataset.

Sources (Debian/Ubuntu package ``mricron-data``, BSD-3-clause)::

    /usr/share/mricron/templates/ch2.nii.gz   Colin27 T1 MRI, 181x217x181, 1 mm (Holmes et al. 1998)
    /usr/share/mricron/templates/aal.nii.gz   AAL atlas, ids 0..116 on the same grid (Tzourio-Mazoyer et al. 2002)
    /usr/share/mricron/templates/aal.nii.txt  one ``<id> <name> <code>`` line per AAL region

Output (the ``img_dir``/``ann_dir`` layout of ``BaseSegDataset``)::

    OUT/img_dir/{train,val}/colin27_<axis>_<index>.png   uint8 grayscale T1 slice
    OUT/ann_dir/{train,val}/colin27_<axis>_<index>.png   uint8 class-index mask, same size
    OUT/classes.json                                    classes, palette, grouping, split, intensities

Choices, all recorded in ``classes.json``:

* Slices: axial by default (``--axis 2``, planes of constant z after reorienting to RAS),
  shown in neurological convention: anterior at the top, the subject's left on the image
  left. Only slices where at least ``--min-brain-fraction`` of the pixels carry an AAL label
  are kept, so the near-empty caps of the volume do not dominate the data.
* Intensities: the T1 volume is mapped to uint8 with robust percentiles (0.5 and 99.5 of the
  voxels inside the head, i.e. non-zero), computed once over the volume so that a grey value
  means the same tissue on every slice.
* Labels: left and right are merged (``Frontal_Sup_L`` and ``Frontal_Sup_R`` become
  ``Frontal_Sup``) and the 116 AAL regions are grouped into 11 lobes/structures by the
  name rules in ``GROUP_RULES``; each region must match exactly one rule. Class 0
  (``background``) is everything the atlas leaves unlabelled: white matter, ventricles/CSF and
  everything outside the brain. Because left/right are merged, a horizontal flip is label-safe.
* Split: a contiguous BLOCK of the kept slices goes to val (``--val-block 0.3 0.5`` = the
  block from 30% to 50% of the kept slices, counted from inferior to superior), so val is a
  slab of anatomy the model never saw. The ``--val-gap`` kept slices on each side of the block
  are dropped, because 1 mm neighbours are almost identical and would leak val into train.
  The default block (z = 57..83 on Colin27, through the basal ganglia and thalamus) is the
  one where both train and val contain every class; a block in the middle of the range
  would take all of the thalamus, one at an end all of the cerebellum or the parietal lobe.

The output is built in a temporary folder beside ``--out`` and renamed into place, so an
interrupted run never leaves a half-written dataset; files in an existing ``--out`` that the
converter does not generate (README.md, LICENSE) are carried over.

Example::

    python tools/dataset_converters/mricron_atlas.py --src /usr/share/mricron/templates \\
        --out data/brain_atlas --overwrite
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

# The classes and colours of BrainAtlasDataset: one definition, read by the dataset and written here.
from segtools.palettes import BRAIN_ATLAS_CLASSES as CLASSES
from segtools.palettes import BRAIN_ATLAS_PALETTE as PALETTE

IMAGE_FILE = 'ch2.nii.gz'
ATLAS_FILE = 'aal.nii.gz'
NAMES_FILE = 'aal.nii.txt'
APT_HINT = 'install it with `apt-get install mricron-data` (files land in /usr/share/mricron/templates)'

# Rules on the hemisphere-free AAL name. The grouping follows AAL's own lobe coding (the
# third column of aal.nii.txt: 2xxx frontal, 3xxx insula, 4xxx limbic, 5xxx occipital,
# 6xxx parietal, 7xxx central nuclei, 8xxx temporal, 9xxx cerebellum), except that the
# limbic lobe is split into cingulate gyrus and medial temporal structures and the central
# nuclei into basal ganglia and thalamus, which look different on T1.
GROUP_RULES = (
    ('frontal', r'Precentral|Frontal_.+|Rolandic_Oper|Supp_Motor_Area|Olfactory|Rectus'),
    ('parietal', r'Postcentral|Parietal_.+|SupraMarginal|Angular|Precuneus|Paracentral_Lobule'),
    ('temporal', r'Heschl|Temporal_.+'),
    ('occipital', r'Calcarine|Cuneus|Lingual|Occipital_.+|Fusiform'),
    ('insula', r'Insula'),
    ('cingulate', r'Cingulum_.+'),
    ('hippocampus_amygdala', r'Hippocampus|ParaHippocampal|Amygdala'),
    ('basal_ganglia', r'Caudate|Putamen|Pallidum'),
    ('thalamus', r'Thalamus'),
    ('cerebellum', r'Cerebelum_.+'),
    ('vermis', r'Vermis_.+'),
)
AXIS_NAMES = ('sagittal', 'coronal', 'axial')
GENERATED = ('img_dir', 'ann_dir', 'classes.json')


def parse_names(path: Path) -> dict[int, str]:
    """Read an AAL names file: one ``<id> <name> [<code>]`` line per region.

    Args:
        path: The ``aal.nii.txt`` file.

    Returns:
        dict[int, str]: Region id (> 0) to region name.
    """
    names: dict[int, str] = {}
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2 or not fields[0].isdigit() or int(fields[0]) == 0:
            raise ValueError(f'{path}:{line_no}: expected "<id> <name> [<code>]" with id > 0, got {line!r}')
        region_id = int(fields[0])
        if region_id in names:
            raise ValueError(f'{path}:{line_no}: region id {region_id} is listed twice')
        names[region_id] = fields[1]
    if not names:
        raise ValueError(f'{path}: no regions listed; expected "<id> <name> [<code>]" lines')
    return names


def merge_hemispheres(name: str) -> str:
    """Drop the ``_L``/``_R`` hemisphere suffix of an AAL name (``Insula_L`` -> ``Insula``)."""
    return re.sub(r'_[LR]$', '', name)


def group_regions(names: dict[int, str], source: str = NAMES_FILE) -> dict[int, int]:
    """Assign every AAL region to one class of ``CLASSES`` by ``GROUP_RULES``.

    Args:
        names: Region id to AAL name, from :func:`parse_names`.
        source: Where the names came from, for error messages.

    Returns:
        dict[int, int]: Region id to class index (1..len(CLASSES)-1).
    """
    mapping = {}
    for region_id, name in names.items():
        base = merge_hemispheres(name)
        hits = [cls for cls, pattern in GROUP_RULES if re.fullmatch(pattern, base)]
        if len(hits) != 1:
            raise ValueError(
                f'{source}: region {region_id} {name!r} matches {len(hits)} grouping rules {hits}; '
                'expected exactly one (edit GROUP_RULES in tools/dataset_converters/mricron_atlas.py)'
            )
        mapping[region_id] = CLASSES.index(hits[0])
    return mapping


def label_groups(names: dict[int, str], mapping: dict[int, int]) -> dict[str, list[str]]:
    """Class name to the sorted hemisphere-free AAL names it contains."""
    groups: dict[str, set[str]] = {cls: set() for cls in CLASSES[1:]}
    for region_id, class_index in mapping.items():
        groups[CLASSES[class_index]].add(merge_hemispheres(names[region_id]))
    return {cls: sorted(members) for cls, members in groups.items()}


def load_volumes(src: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load the T1 and atlas volumes of ``src``, reoriented to RAS.

    Args:
        src: Folder holding ``ch2.nii.gz`` and ``aal.nii.gz``.

    Returns:
        tuple[np.ndarray, np.ndarray]: T1 intensities (X, Y, Z) float32 and atlas ids
        (X, Y, Z) int64 on the same grid.
    """
    try:
        import nibabel as nib
    except ImportError as e:  # only the converter needs nibabel
        raise ImportError('the converter needs nibabel: pip install -r requirements/data.txt') from e

    volumes = []
    for file_name in (IMAGE_FILE, ATLAS_FILE):
        path = src / file_name
        if not path.is_file():
            raise FileNotFoundError(f'{path} not found; {APT_HINT}, or pass --src')
        # Reorienting makes the axis names and the display convention hold for any input.
        image = nib.as_closest_canonical(nib.load(str(path)))
        volumes.append((path, image))
    (t1_path, t1_image), (atlas_path, atlas_image) = volumes
    if t1_image.shape != atlas_image.shape or not np.allclose(t1_image.affine, atlas_image.affine, atol=1e-3):
        raise ValueError(
            f'{t1_path} (shape {t1_image.shape}) and {atlas_path} (shape {atlas_image.shape}) are not on the same '
            'voxel grid; expected equal shapes and affines'
        )
    t1 = np.asarray(t1_image.dataobj, dtype=np.float32)
    atlas_raw = np.asarray(atlas_image.dataobj)
    atlas = np.rint(atlas_raw).astype(np.int64)
    if t1.ndim != 3 or not np.array_equal(atlas, atlas_raw):
        raise ValueError(f'{atlas_path}: expected a 3-D volume of integer region ids, got shape {atlas_raw.shape}')
    return t1, atlas


def to_uint8(t1: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5) -> tuple[np.ndarray, float, float]:
    """Map intensities to uint8 with robust percentiles of the non-zero (head) voxels.

    Args:
        t1: Intensity volume of any shape.
        low_pct: Percentile mapped to 0.
        high_pct: Percentile mapped to 255.

    Returns:
        tuple: The uint8 volume, and the low and high intensities used.
    """
    head = t1[t1 > 0]
    if head.size == 0:
        raise ValueError('the T1 volume is all zero; expected a brain image')
    low, high = (float(v) for v in np.percentile(head, [low_pct, high_pct]))
    high = max(high, low + 1e-6)
    scaled = np.clip((t1 - low) / (high - low), 0.0, 1.0) * 255.0
    return np.rint(scaled).astype(np.uint8), low, high


def take_slice(volume: np.ndarray, axis: int, index: int) -> np.ndarray:
    """One RAS slice as an image: the second in-plane axis runs up the rows (anterior or
    superior at the top), the first along the columns (left to right, neurological view).

    Args:
        volume: (X, Y, Z) volume in RAS orientation.
        axis: 0 sagittal, 1 coronal, 2 axial.
        index: Slice index along ``axis``.

    Returns:
        np.ndarray: (H, W) slice, H the second remaining axis, W the first.
    """
    return np.ascontiguousarray(np.flipud(np.take(volume, index, axis=axis).T))


def select_slices(atlas: np.ndarray, axis: int, min_brain_fraction: float) -> list[int]:
    """Indices (ascending) of the slices whose labelled fraction is at least ``min_brain_fraction``."""
    other = tuple(a for a in range(3) if a != axis)
    fraction = (atlas > 0).mean(axis=other)
    return [int(i) for i in np.nonzero(fraction >= min_brain_fraction)[0]]


def block_split(indices: Sequence[int], val_block: tuple[float, float], gap: int) -> tuple[list[int], list[int]]:
    """Split ordered slice indices into train and one contiguous val block.

    Args:
        indices: Kept slice indices in anatomical order.
        val_block: (start, end) fractions of ``indices`` that go to val, 0 <= start < end <= 1.
        gap: Number of slices dropped on each side of the val block.

    Returns:
        tuple[list[int], list[int]]: Train indices and val indices.
    """
    start, end = val_block
    if not 0.0 <= start < end <= 1.0:
        raise ValueError(f'--val-block must satisfy 0 <= start < end <= 1, got {val_block}')
    if gap < 0:
        raise ValueError(f'--val-gap must be >= 0, got {gap}')
    n = len(indices)
    lo, hi = int(round(start * n)), int(round(end * n))
    if hi <= lo:
        raise ValueError(f'--val-block {val_block} selects no slice out of {n} kept slices; widen the block')
    val = list(indices[lo:hi])
    train = list(indices[: max(lo - gap, 0)]) + list(indices[hi + gap :])
    if not train:
        raise ValueError(f'--val-block {val_block} with --val-gap {gap} leaves no train slice out of {n}')
    return train, val


def _write_png(path: Path, array: np.ndarray) -> None:
    if not cv2.imwrite(str(path), array):
        raise OSError(f'could not write {path}')


def convert(
    src: Path,
    out: Path,
    axis: int = 2,
    val_block: tuple[float, float] = (0.3, 0.5),
    val_gap: int = 1,
    min_brain_fraction: float = 0.05,
    overwrite: bool = False,
) -> dict:
    """Write the dataset to ``out`` (see the module docstring) and return its ``classes.json`` content."""
    if axis not in (0, 1, 2):
        raise ValueError(f'--axis must be 0 (sagittal), 1 (coronal) or 2 (axial), got {axis}')
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f'{out} already exists; pass --overwrite to replace it')
    names_path = Path(src) / NAMES_FILE
    if not names_path.is_file():
        raise FileNotFoundError(f'{names_path} not found; {APT_HINT}, or pass --src')
    names = parse_names(names_path)
    mapping = group_regions(names, source=str(names_path))
    t1, atlas = load_volumes(Path(src))

    unknown = sorted(set(np.unique(atlas).tolist()) - set(names) - {0})
    if unknown:
        raise ValueError(f'{Path(src) / ATLAS_FILE}: region ids {unknown} are not listed in {names_path}')
    lut = np.zeros(int(atlas.max()) + 1, dtype=np.uint8)
    for region_id, class_index in mapping.items():
        if region_id < lut.size:
            lut[region_id] = class_index
    labels = lut[np.clip(atlas, 0, None)]
    image, low, high = to_uint8(t1)

    kept = select_slices(atlas, axis, min_brain_fraction)
    if not kept:
        raise ValueError(f'no slice along axis {axis} has a labelled fraction >= {min_brain_fraction}')
    train, val = block_split(kept, val_block, val_gap)

    meta = dict(
        classes=list(CLASSES),
        palette=[list(c) for c in PALETTE],
        label_groups=label_groups(names, mapping),
        grouping_rules={cls: f'^({pattern})(_[LR])?$' for cls, pattern in GROUP_RULES},
        aal_to_class={str(k): v for k, v in sorted(mapping.items())},
        background='class 0: voxels the AAL atlas leaves unlabelled (white matter, CSF, outside the brain)',
        axis=dict(index=axis, name=AXIS_NAMES[axis]),
        orientation='RAS volume; image rows run anterior/superior at the top, subject left on the image left',
        intensity=dict(low=low, high=high, rule='0.5 and 99.5 percentiles of non-zero T1 voxels -> 0 and 255'),
        min_brain_fraction=min_brain_fraction,
        split=dict(val_block=list(val_block), val_gap=val_gap, train=train, val=val),
        source=dict(image=IMAGE_FILE, atlas=ATLAS_FILE, names=NAMES_FILE, package='mricron-data'),
    )

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{out.name}-', dir=out.parent))
    try:
        for split, indices in (('train', train), ('val', val)):
            (tmp / 'img_dir' / split).mkdir(parents=True)
            (tmp / 'ann_dir' / split).mkdir(parents=True)
            for index in indices:
                stem = f'colin27_{AXIS_NAMES[axis]}_{index:03d}.png'
                _write_png(tmp / 'img_dir' / split / stem, take_slice(image, axis, index))
                _write_png(tmp / 'ann_dir' / split / stem, take_slice(labels, axis, index))
        (tmp / 'classes.json').write_text(json.dumps(meta, indent=2) + '\n')
        if out.exists():
            for extra in out.iterdir():  # hand-written notes survive a regeneration
                if extra.name not in GENERATED and extra.is_file():
                    shutil.copy2(extra, tmp / extra.name)
            old = out.with_name(f'.{out.name}-old')
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--src', type=Path, default=Path('/usr/share/mricron/templates'), help='mricron templates')
    parser.add_argument('--out', type=Path, default=Path('data/brain_atlas'), help='output dataset folder')
    parser.add_argument('--axis', type=int, default=2, choices=(0, 1, 2), help='0 sagittal, 1 coronal, 2 axial')
    parser.add_argument(
        '--val-block',
        type=float,
        nargs=2,
        default=(0.3, 0.5),
        metavar=('START', 'END'),
        help='fractions of the kept slices (inferior to superior) that form the val block',
    )
    parser.add_argument('--val-gap', type=int, default=1, help='slices dropped on each side of the val block')
    parser.add_argument(
        '--min-brain-fraction', type=float, default=0.05, help='keep slices with at least this labelled fraction'
    )
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    meta = convert(
        args.src,
        args.out,
        axis=args.axis,
        val_block=tuple(args.val_block),
        val_gap=args.val_gap,
        min_brain_fraction=args.min_brain_fraction,
        overwrite=args.overwrite,
    )
    split = meta['split']
    print(f'wrote {args.out}: {len(split["train"])} train and {len(split["val"])} val slices, {len(CLASSES)} classes')


if __name__ == '__main__':
    main()
