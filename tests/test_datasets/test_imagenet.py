"""ImageNetDataset: the 1000 WordNet-id folders, subsets, list files and readable names."""

import hashlib
import re

import cv2
import numpy as np
import pytest

from segtools.datasets.imagenet import IMAGENET_WNIDS, ImageNetDataset
from segtools.datasets.validation import DatasetError, DatasetNotFoundError
from segtools.registry import DATASETS

JPEG = cv2.imencode('.jpg', np.zeros((4, 4, 3), np.uint8))[1].tobytes()


def write_split(root, wnids, split='train', per_class=1):
    for wnid in wnids:
        (root / split / wnid).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (root / split / wnid / f'{wnid}_{i}.JPEG').write_bytes(JPEG)


def test_wnid_list():
    assert len(IMAGENET_WNIDS) == 1000 == len(set(IMAGENET_WNIDS))
    assert list(IMAGENET_WNIDS) == sorted(IMAGENET_WNIDS)
    assert all(re.fullmatch(r'n\d{8}', w) for w in IMAGENET_WNIDS)
    assert IMAGENET_WNIDS[0] == 'n01440764' and IMAGENET_WNIDS[-1] == 'n15075141'
    # Guards against an accidental edit; the list was checked against three independent copies of
    # LOC_synset_mapping.txt / synset_words.txt.
    assert hashlib.sha1(' '.join(IMAGENET_WNIDS).encode()).hexdigest() == 'b642e71a66e43e5bf89b1e404b164ca93b8e518b'


def test_full_dataset_labels_follow_the_sorted_wnids(tmp_path):
    write_split(tmp_path, reversed(IMAGENET_WNIDS))
    ds = DATASETS.build(dict(type='ImageNetDataset', data_root=str(tmp_path), validate=dict(num_samples=2)))
    assert isinstance(ds, ImageNetDataset) and len(ds) == 1000
    assert ds.metainfo['classes'] == IMAGENET_WNIDS and 'class_names' not in ds.metainfo
    for i in (0, 1, 537, 999):
        info = ds.get_data_info(i)
        assert info['gt_label'] == IMAGENET_WNIDS.index(info['img_path'].split('/')[-2])


def test_refuses_other_than_the_1000_folders(tmp_path):
    write_split(tmp_path, IMAGENET_WNIDS[:3] + ('n99999999',))
    with pytest.raises(DatasetError) as info:
        ImageNetDataset(data_root=str(tmp_path))
    msg = str(info.value)
    assert "'" + str(tmp_path / 'train') + "' has 4 class folders" in msg
    assert 'missing 997: [n01491361, n01494475, n01496331, n01498041, n01514668, ... (997 in total)]' in msg
    assert 'unexpected 1: [n99999999]' in msg
    assert 'metainfo=dict(classes=' in msg and 'tools/dataset_converters/imagenet.py' in msg
    # 1000 folders with one misspelt is refused as well
    write_split(tmp_path, IMAGENET_WNIDS[:-1], split='val')
    write_split(tmp_path, ('n15075142',), split='val')
    with pytest.raises(DatasetError, match=r'has 1000 .*missing 1: \[n15075141\], unexpected 1: \[n15075142'):
        ImageNetDataset(data_root=str(tmp_path), data_prefix=dict(img_path='val'))


def test_subset_on_purpose(tmp_path):
    subset = (IMAGENET_WNIDS[5], IMAGENET_WNIDS[2])
    write_split(tmp_path, subset, per_class=2)
    ds = ImageNetDataset(data_root=str(tmp_path), metainfo=dict(classes=subset))
    assert len(ds) == 4 and ds.metainfo['classes'] == subset
    assert {ds.get_data_info(i)['img_path'].split('/')[-2]: ds.get_data_info(i)['gt_label'] for i in range(4)} == {
        subset[0]: 0,
        subset[1]: 1,
    }


def test_list_file_skips_the_folder_check(tmp_path):
    # A flat val folder with Caffe's val.txt (integer labels = index in the sorted wnids).
    (tmp_path / 'val').mkdir()
    for i in (1, 2):
        (tmp_path / 'val' / f'ILSVRC2012_val_{i:08d}.JPEG').write_bytes(JPEG)
    (tmp_path / 'val.txt').write_text('ILSVRC2012_val_00000001.JPEG 65\nILSVRC2012_val_00000002.JPEG 970\n')
    ds = ImageNetDataset(data_root=str(tmp_path), data_prefix=dict(img_path='val'), ann_file='val.txt')
    assert [ds.get_data_info(i)['gt_label'] for i in range(2)] == [65, 970]


def test_readable_names(tmp_path):
    subset = IMAGENET_WNIDS[:2]
    write_split(tmp_path, subset)
    kwargs = dict(data_root=str(tmp_path), metainfo=dict(classes=subset))
    (tmp_path / 'LOC_synset_mapping.txt').write_text(
        'n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n'
    )
    ds = ImageNetDataset(**kwargs)
    assert ds.metainfo['class_names'] == ('tench, Tinca tinca', 'goldfish, Carassius auratus')
    assert ds.metainfo['classes'] == subset
    (tmp_path / 'names.txt').write_text('n01440764 tench\n')
    with pytest.raises(DatasetError, match=r'names\.txt: no names for classes \[n01443537\]'):
        ImageNetDataset(synset_mapping='names.txt', **kwargs)
    with pytest.raises(DatasetNotFoundError, match=r'nothere\.txt'):
        ImageNetDataset(synset_mapping='nothere.txt', **kwargs)
