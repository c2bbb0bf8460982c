"""--resume auto: which checkpoint, what happens to unreadable ones and to a killed write's leftovers."""

import os

import pytest
import torch

from segtools.errors import CheckpointError
from segtools.utils.resume import find_resumable_checkpoint, remove_stale_temporary_files


def _save(path, step):
    torch.save({'meta': {'iter': step}}, path)


def test_pointer_then_newest_complete_file(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path)) is None
    assert find_resumable_checkpoint(str(tmp_path / 'absent')) is None
    for step in (2, 4):
        _save(tmp_path / f'iter_{step}.pth', step)
    pointer = tmp_path / 'last_checkpoint'
    pointer.write_text(str(tmp_path / 'iter_2.pth'))
    # The pointer names the last file this run wrote (a larger N may be a previous run's).
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    pointer.write_text('')
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    pointer.write_text(str(tmp_path / 'missing.pth'))
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')


def test_a_checkpoint_written_after_the_pointer_wins(tmp_path):
    # A kill after iter_4.pth was renamed into place but before last_checkpoint was updated.
    for step in (2, 4):
        _save(tmp_path / f'iter_{step}.pth', step)
    pointer = tmp_path / 'last_checkpoint'
    pointer.write_text(str(tmp_path / 'iter_2.pth'))
    os.utime(pointer, (1000.0, 1000.0))
    os.utime(tmp_path / 'iter_2.pth', (900.0, 900.0))
    os.utime(tmp_path / 'iter_4.pth', (1100.0, 1100.0))
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    # Written before the pointer: a previous run's file, and the pointer wins.
    os.utime(tmp_path / 'iter_4.pth', (950.0, 950.0))
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')


def test_unreadable_checkpoints_are_moved_aside_not_overwritten(tmp_path):
    for step in (2, 4):
        _save(tmp_path / f'iter_{step}.pth', step)
    truncated = (tmp_path / 'iter_4.pth').read_bytes()[:100]
    (tmp_path / 'iter_6.pth').write_bytes(truncated)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_6.pth'))
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    # The resumed run will write iter_6.pth again: the unreadable one is kept under another name.
    assert not (tmp_path / 'iter_6.pth').exists()
    assert (tmp_path / 'iter_6.pth.unreadable').read_bytes() == truncated


def test_only_unreadable_checkpoints_stop_the_run(tmp_path):
    (tmp_path / 'iter_2.pth').write_bytes(b'not a checkpoint')
    (tmp_path / 'iter_4.pth').write_bytes(b'')
    with pytest.raises(CheckpointError, match=r'none is readable.*iter_2\.pth.*iter_4\.pth') as error:
        find_resumable_checkpoint(str(tmp_path))
    assert 'without --resume' in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['iter_2.pth.unreadable', 'iter_4.pth.unreadable']
    assert (tmp_path / 'iter_2.pth.unreadable').read_bytes() == b'not a checkpoint'
    # Asked again (e.g. the same command rerun), it still refuses rather than starting over.
    with pytest.raises(CheckpointError, match='none is readable'):
        find_resumable_checkpoint(str(tmp_path))
    # A second unreadable file of the same name does not replace the first one moved aside.
    (tmp_path / 'iter_2.pth').write_bytes(b'again')
    with pytest.raises(CheckpointError):
        find_resumable_checkpoint(str(tmp_path))
    assert (tmp_path / 'iter_2.pth.unreadable').read_bytes() == b'not a checkpoint'
    assert (tmp_path / 'iter_2.pth.unreadable2').read_bytes() == b'again'


def test_other_ranks_never_move_files(tmp_path, monkeypatch):
    monkeypatch.setenv('RANK', '1')
    _save(tmp_path / 'iter_2.pth', 2)
    (tmp_path / 'iter_4.pth').write_bytes(b'x')
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    assert (tmp_path / 'iter_4.pth').exists()
    (tmp_path / '.iter_6.pth.abc123_x.tmp').write_bytes(b'half')
    assert remove_stale_temporary_files(str(tmp_path)) == []


def test_stale_temporary_files_are_removed(tmp_path):
    stale = ['.iter_6.pth.k2j_8x1q.tmp', '.last_checkpoint.ab12cd34.tmp', '.best_mIoU_iter_4.pth.zz9y8x7w.tmp']
    kept = ['iter_4.pth', '.notes.tmp', 'data.tmp', '.scalars.json.ab12cd34.tmp']
    for name in stale + kept:
        (tmp_path / name).write_bytes(b'x')
    removed = remove_stale_temporary_files(str(tmp_path))
    assert sorted(removed) == sorted(str(tmp_path / name) for name in stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)
    assert remove_stale_temporary_files(str(tmp_path / 'absent')) == []
