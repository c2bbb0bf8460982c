"""ImageFolderDataset: class folders -> labels, list files, and bad input."""

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from segtools.datasets.image_folder import ImageFolderDataset
from segtools.datasets.validation import DatasetError, DatasetNotFoundError
from segtools.registry import DATASETS


def write_tree(root, layout):
    """``layout``: ``{class: number of images}`` under ``root/train``."""
    for cls, n in layout.items():
        (root / 'train' / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            cv2.imwrite(str(root / 'train' / cls / f'{i}.JPEG'), np.full((5, 4, 3), i * 20, np.uint8))


def build(root, **kwargs):
    return ImageFolderDataset(data_root=str(root), data_prefix=dict(img_path='train'), **kwargs)


def test_folders_give_sorted_labels(tmp_path):
    write_tree(tmp_path, {'n02': 2, 'n01': 1, 'n03': 3})
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = DATASETS.build(
            dict(type='ImageFolderDataset', data_root=str(tmp_path), data_prefix=dict(img_path='train'))
        )
    assert len(ds) == 6 and ds.metainfo['classes'] == ('n01', 'n02', 'n03')
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        folder = info['img_path'].split('/')[-2]
        assert info['gt_label'] == ds.metainfo['classes'].index(folder)


def test_given_classes_set_the_order(tmp_path):
    write_tree(tmp_path, {'cat': 1, 'dog': 1})
    ds = build(tmp_path, metainfo=dict(classes=('dog', 'cat', 'bird')))
    labels = {ds.get_data_info(i)['img_path'].split('/')[-2]: ds.get_data_info(i)['gt_label'] for i in range(2)}
    assert labels == {'dog': 0, 'cat': 1}


def test_unknown_folder(tmp_path):
    write_tree(tmp_path, {'cat': 1, 'zebra': 1})
    with pytest.raises(DatasetError, match='zebra'):
        build(tmp_path, metainfo=dict(classes=('cat',)))


def test_list_file_with_labels(tmp_path):
    write_tree(tmp_path, {'a': 2, 'b': 2})
    (tmp_path / 'val.txt').write_text('a/1.JPEG 1\nb/0.JPEG 0\n')
    ds = build(tmp_path, ann_file='val.txt', metainfo=dict(classes=('x', 'y')))
    assert [ds.get_data_info(i)['gt_label'] for i in range(2)] == [1, 0]


def test_list_file_errors(tmp_path):
    write_tree(tmp_path, {'a': 1})
    (tmp_path / 'bad.txt').write_text('a/0.JPEG one\n')
    with pytest.raises(DatasetError, match=r'bad\.txt:1.*one'):
        build(tmp_path, ann_file='bad.txt')
    (tmp_path / 'range.txt').write_text('a/0.JPEG 5\n')
    with pytest.raises(DatasetError, match=r'range\.txt.*\[5\]'):
        build(tmp_path, ann_file='range.txt', metainfo=dict(classes=('a',)))
    (tmp_path / 'ghost.txt').write_text('a/9.JPEG\n')
    with pytest.raises(DatasetNotFoundError, match=r'9\.JPEG'):
        build(tmp_path, ann_file='ghost.txt')
    with pytest.raises(FileNotFoundError, match='nothere.txt'):
        build(tmp_path, ann_file='nothere.txt')


def test_missing_and_empty_folder(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path / 'train')):
        build(tmp_path)
    (tmp_path / 'train').mkdir()
    (tmp_path / 'train' / 'loose.jpg').write_bytes(b'x')  # not inside a class folder
    with pytest.raises(DatasetNotFoundError, match='class folders'):
        build(tmp_path)


def test_truncated_image(tmp_path):
    write_tree(tmp_path, {'a': 2})
    path = tmp_path / 'train' / 'a' / '1.JPEG'
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(DatasetError, match=r'a/1\.JPEG'):
        build(tmp_path)
    assert len(build(tmp_path, validate=False)) == 2
