"""Atomic writes: the destination is the old file or the whole new one."""

import os

import pytest

from segtools.utils.fileio import atomic_open, atomic_write_bytes


def test_writes_and_replaces(tmp_path):
    path = tmp_path / 'sub' / 'out.bin'
    atomic_write_bytes(path, b'first')
    atomic_write_bytes(path, b'second')
    assert path.read_bytes() == b'second'
    assert os.listdir(path.parent) == ['out.bin']  # no temporary file left
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_failure_keeps_the_old_file(tmp_path):
    path = tmp_path / 'out.json'
    path.write_text('{"old": 1}')
    with pytest.raises(RuntimeError, match='boom'), atomic_open(path, 'w') as file:
        file.write('{"new": ')
        raise RuntimeError('boom')
    assert path.read_text() == '{"old": 1}'
    assert os.listdir(tmp_path) == ['out.json']


def test_text_mode_and_bad_mode(tmp_path):
    with atomic_open(tmp_path / 't.txt', 'w') as file:
        file.write('é')
    assert (tmp_path / 't.txt').read_text(encoding='utf-8') == 'é'
    with pytest.raises(ValueError, match="mode must be 'wb' or 'w'"), atomic_open(tmp_path / 'x', 'a'):
        pass
