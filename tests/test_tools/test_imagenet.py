"""Tests of tools/dataset_converters/imagenet.py on tiny fixture tars (3 classes, 2 images each)."""

import gzip
import hashlib
import importlib
import io
import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from segtools.datasets.imagenet import IMAGENET_WNIDS, ImageNetDataset

CONVERTERS = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters'
if str(CONVERTERS) not in sys.path:
    sys.path.insert(0, str(CONVERTERS))
conv = importlib.import_module('imagenet')

CLASSES = ('n01440764', 'n01443537', 'n15075141')
JPEG = cv2.imencode('.jpg', np.full((6, 5, 3), 90, np.uint8))[1].tobytes()


def _tar(members, links=()) -> bytes:
    """An uncompressed tar of ``{name: bytes}`` plus ``(name, target)`` symbolic links."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return buf.getvalue()


def make_train(path, classes=CLASSES, inner=None, outer_links=()) -> Path:
    """Outer tar of per-class tars; ``inner`` replaces the first class's members."""
    members = {}
    for i, wnid in enumerate(classes):
        images = {f'{wnid}_{k}.JPEG': JPEG for k in range(2)}
        members[f'{wnid}.tar'] = _tar(*(inner if inner and i == 0 else (images,)))
    path.write_bytes(_tar(members, outer_links))
    return path


def val_names(n=6):
    return [f'ILSVRC2012_val_{i:08d}.JPEG' for i in range(1, n + 1)]


def make_val(path, names=None, links=()) -> Path:
    path.write_bytes(_tar(dict.fromkeys(names or val_names(), JPEG), links))
    return path


def val_truth(names=None):
    return {name: CLASSES[i % len(CLASSES)] for i, name in enumerate(names or val_names())}


def write_labels(path, truth, fmt) -> Path:
    if fmt == 'txt':
        lines = [f'{name} {wnid}' for name, wnid in truth.items()]
    else:  # Kaggle: no suffix, prediction string = (wnid box)+
        lines = ['ImageId,PredictionString'] + [
            f'{name.rsplit(".", 1)[0]},{wnid} 1 2 30 40 {wnid} 5 6 7 8' for name, wnid in truth.items()
        ]
    path.write_text('\n'.join(lines) + '\n')
    return path


@pytest.mark.parametrize('fmt,nproc', [('txt', 1), ('csv', 2)])
def test_convert_and_load(tmp_path, fmt, nproc):
    train, val = make_train(tmp_path / 'train.tar'), make_val(tmp_path / 'val.tar')
    labels = write_labels(tmp_path / f'labels.{fmt}', val_truth(), fmt)
    out = tmp_path / 'imagenet'
    conv.main(
        ['--train', str(train), '--val', str(val), '--val-labels', str(labels)]
        + ['--out', str(out), '--nproc', str(nproc)]
    )
    assert sorted(p.name for p in (out / 'train' / 'n01443537').iterdir()) == ['n01443537_0.JPEG', 'n01443537_1.JPEG']
    for name, wnid in val_truth().items():
        assert (out / 'val' / wnid / name).is_file()
    assert sorted(p.name for p in out.iterdir()) == ['train', 'val']  # no temporary folders left
    conv.main(['--check-only', '--out', str(out)])

    for split, size in (('train', 6), ('val', 6)):
        ds = ImageNetDataset(data_root=str(out), data_prefix=dict(img_path=split), metainfo=dict(classes=CLASSES))
        assert len(ds) == size
        for i in range(size):
            info = ds.get_data_info(i)
            assert info['gt_label'] == CLASSES.index(Path(info['img_path']).parent.name)
    ds = ImageNetDataset(data_root=str(out), data_prefix=dict(img_path='val'), metainfo=dict(classes=CLASSES))
    labels_by_name = {Path(ds.get_data_info(i)['img_path']).name: ds.get_data_info(i)['gt_label'] for i in range(6)}
    assert labels_by_name == {name: CLASSES.index(wnid) for name, wnid in val_truth().items()}


def test_full_class_list_needs_1000_folders(tmp_path):
    out = tmp_path / 'imagenet'
    conv.main(['--train', str(make_train(tmp_path / 't.tar')), '--out', str(out)])
    with pytest.raises(ValueError, match=r'has 3 class folders.*missing 997'):
        ImageNetDataset(data_root=str(out))
    assert set(CLASSES) <= set(IMAGENET_WNIDS)


def test_sha1_of_official_names(tmp_path):
    train = make_train(tmp_path / conv.TRAIN_ARCHIVE)
    with pytest.raises(ValueError, match=r'ILSVRC2012_img_train\.tar: sha1 is .* expected 43eda4fe'):
        conv.main(['--train', str(train), '--out', str(tmp_path / 'o')])
    val = make_val(tmp_path / conv.VAL_ARCHIVE)
    labels = write_labels(tmp_path / 'l.txt', val_truth(), 'txt')
    with pytest.raises(ValueError, match=r'ILSVRC2012_img_val\.tar: sha1 is .* expected 5f3f73da'):
        conv.main(['--val', str(val), '--val-labels', str(labels), '--out', str(tmp_path / 'o')])
    with pytest.raises(ValueError, match='sha1 is'):
        conv.main(['--train', str(train), '--train-sha1', '0' * 40, '--out', str(tmp_path / 'o')])
    assert not (tmp_path / 'o').exists()
    actual = hashlib.sha1(train.read_bytes()).hexdigest()
    conv.main(['--train', str(train), '--train-sha1', actual, '--out', str(tmp_path / 'o')])
    conv.main(['--train', str(train), '--skip-sha1', '--out', str(tmp_path / 'o2')])
    assert (tmp_path / 'o' / 'train' / CLASSES[0]).is_dir() and (tmp_path / 'o2' / 'train').is_dir()


IMAGES = {'a.JPEG': JPEG}


@pytest.mark.parametrize(
    'where,kwargs,message',
    [
        ('outer', dict(outer_links=[('evil.tar', '/etc/passwd')]), 'link'),
        ('inner', dict(inner=(IMAGES, [('x.JPEG', '../../x')])), 'link'),
        ('inner', dict(inner=({'../../escaped.JPEG': JPEG},)), 'outside'),
        ('inner', dict(inner=({'/tmp/absolute.JPEG': JPEG},)), 'absolute'),
    ],
)
def test_unsafe_train_members(tmp_path, where, kwargs, message):
    (tmp_path / 'src').mkdir()
    train = make_train(tmp_path / 'src' / 'train.tar', **kwargs)
    for nproc in ('1', '2'):
        with pytest.raises(ValueError, match=message) as info:
            conv.main(['--train', str(train), '--out', str(tmp_path / 'o'), '--nproc', nproc])
        if where == 'inner':
            assert f'train.tar:{CLASSES[0]}.tar' in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['src']  # nothing escaped, no half-built output


@pytest.mark.parametrize('name,message', [('../evil.tar', 'outside'), ('/abs/n01.tar', 'absolute')])
def test_unsafe_outer_paths(tmp_path, name, message):
    (tmp_path / 'train.tar').write_bytes(_tar({name: _tar(IMAGES)}))
    with pytest.raises(ValueError, match=message):
        conv.main(['--train', str(tmp_path / 'train.tar'), '--out', str(tmp_path / 'o')])
    assert not (tmp_path / 'o').exists() and not (tmp_path.parent / 'evil.tar').exists()


def test_unsafe_val_members(tmp_path):
    labels = write_labels(tmp_path / 'l.txt', val_truth(), 'txt')
    for kwargs, message in [(dict(links=[('x.JPEG', '/etc/passwd')]), 'link'), (dict(names=['../x.JPEG']), 'outside')]:
        val = make_val(tmp_path / 'val.tar', **kwargs)
        with pytest.raises(ValueError, match=message):
            conv.main(['--val', str(val), '--val-labels', str(labels), '--out', str(tmp_path / 'o')])
    assert not (tmp_path / 'o').exists()


def test_val_label_errors(tmp_path):
    train, val = make_train(tmp_path / 't.tar'), make_val(tmp_path / 'v.tar')

    def run(truth=None, text=None):
        labels = tmp_path / 'labels.txt'
        labels.write_text(text) if text is not None else write_labels(labels, truth, 'txt')
        conv.main(['--train', str(train), '--val', str(val), '--val-labels', str(labels), '--out', str(tmp_path / 'o')])

    truth = val_truth()
    del truth['ILSVRC2012_val_00000003.JPEG']
    with pytest.raises(ValueError, match=r'v\.tar: 1 images have no label in .*labels\.txt: ILSVRC2012_val_00000003'):
        run(truth)
    with pytest.raises(ValueError, match=r"labels\.txt:2: ILSVRC2012_val_00000002\.JPEG is labelled 'n09999999'"):
        run({**val_truth(), 'ILSVRC2012_val_00000002.JPEG': 'n09999999'})
    with pytest.raises(ValueError, match='integer labels'):
        run({name: '65' for name in val_names()})
    with pytest.raises(ValueError, match=r'labels\.txt:1: expected <file> <wnid>'):
        run(text='ILSVRC2012_val_00000001.JPEG\n')
    with pytest.raises(ValueError, match=r'labels\.txt:2: .* labelled n01443537, but .*labels\.txt:1'):
        run(text='ILSVRC2012_val_00000001.JPEG n01440764\nILSVRC2012_val_00000001 n01443537\n')
    assert not (tmp_path / 'o').exists()
    with pytest.raises(ValueError, match='needs --val-labels'):
        conv.main(['--val', str(val), '--out', str(tmp_path / 'o')])


def test_val_only_uses_existing_train_classes(tmp_path):
    out = tmp_path / 'imagenet'
    val = make_val(tmp_path / 'v.tar')
    labels = write_labels(tmp_path / 'l.csv', val_truth(), 'csv')
    conv.main(['--val', str(val), '--val-labels', str(labels), '--out', str(out)])  # no train: wnid shape only
    assert (out / 'val' / CLASSES[2] / 'ILSVRC2012_val_00000003.JPEG').is_file()
    with pytest.raises(FileExistsError, match='--overwrite'):
        conv.main(['--val', str(val), '--val-labels', str(labels), '--out', str(out)])
    (out / 'train' / CLASSES[0]).mkdir(parents=True)  # an existing train split with one class
    (out / 'train' / CLASSES[0] / 'a.JPEG').write_bytes(JPEG)
    with pytest.raises(ValueError, match=r'is labelled .n01443537., which is not one of the 1 train classes'):
        conv.main(['--val', str(val), '--val-labels', str(labels), '--out', str(out), '--overwrite'])
    assert (out / 'val' / CLASSES[2] / 'ILSVRC2012_val_00000003.JPEG').is_file()  # the old split is kept


def test_check_only_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='neither train/ nor val/'):
        conv.main(['--check-only', '--out', str(tmp_path)])
    (tmp_path / 'val').mkdir()
    (tmp_path / 'val' / 'ILSVRC2012_val_00000001.JPEG').write_bytes(JPEG)
    with pytest.raises(ValueError, match='outside class folders.*--val-labels'):
        conv.main(['--check-only', '--out', str(tmp_path)])
    (tmp_path / 'val' / 'ILSVRC2012_val_00000001.JPEG').unlink()
    (tmp_path / 'val' / CLASSES[0]).mkdir()
    with pytest.raises(ValueError, match='class folder without images'):
        conv.main(['--check-only', '--out', str(tmp_path)])


def test_wrong_archive_roles(tmp_path):
    train, val = make_train(tmp_path / 't.tar'), make_val(tmp_path / 'v.tar')
    labels = write_labels(tmp_path / 'l.txt', val_truth(), 'txt')
    with pytest.raises(ValueError, match=r'is not a per-class tar'):
        conv.main(['--train', str(val), '--out', str(tmp_path / 'o')])
    with pytest.raises(ValueError, match=r'is not a flat image file'):
        conv.main(['--val', str(train), '--val-labels', str(labels), '--out', str(tmp_path / 'o')])


def test_train_archive_must_be_plain_and_unique(tmp_path):
    gz = tmp_path / 'train.tar.gz'
    gz.write_bytes(gzip.compress(make_train(tmp_path / 't.tar').read_bytes()))
    with pytest.raises(ValueError, match='expected an uncompressed tar'):
        conv.main(['--train', str(gz), '--out', str(tmp_path / 'o')])
    twice = tmp_path / 'twice.tar'
    twice.write_bytes(_tar({'n01440764.tar': _tar(IMAGES), './n01440764.tar': _tar(IMAGES)}))
    with pytest.raises(ValueError, match='occurs twice'):
        conv.main(['--train', str(twice), '--out', str(tmp_path / 'o')])
