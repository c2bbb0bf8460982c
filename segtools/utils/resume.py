"""What ``--resume auto`` continues from, and what a killed run left behind in its work dir.

Checkpoints are written to a hidden temporary file and renamed into place
(:func:`segtools.utils.fileio.atomic_open`), so a kill leaves a complete ``iter_N.pth`` or none,
plus at most a stale ``.iter_N.pth.XXXX.tmp``. A checkpoint file can still be unreadable
(copied half, a disk that filled up, a file from another tool); such a file is never chosen,
never silently overwritten by the resumed run, and never the reason a run quietly starts over.
"""

import logging
import os
import os.path as osp
import re
import zipfile

from mmengine.logging import print_log

from segtools.errors import CheckpointError

# ``iter_N.pth`` / ``epoch_N.pth`` as mmengine's CheckpointHook names them.
NUMBERED = re.compile(r'(?:iter|epoch)_(\d+)\.pth')
# What atomic_open leaves of an interrupted checkpoint or pointer write (mkstemp: ``.NAME.XXXXXXXX.tmp``).
STALE_TMP = re.compile(r'\.(?:.+\.pth|last_checkpoint)\.[A-Za-z0-9_]+\.tmp')
# Suffix of checkpoints moved aside because they could not be read.
UNREADABLE_SUFFIX = '.unreadable'


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a file with a complete zip directory (torch's format since 1.6)."""
    return osp.isfile(path) and zipfile.is_zipfile(path)


def _rank() -> int:
    """The launcher's global rank (0 without one); read before any process group exists."""
    for variable in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        value = os.environ.get(variable, '')
        if value.isdigit():
            return int(value)
    return 0


def remove_stale_temporary_files(work_dir: str) -> list[str]:
    """Deletes the temporary checkpoint files a killed run left in ``work_dir`` (rank 0 only).

    Args:
        work_dir: The run's work directory (a missing one is fine).

    Returns:
        The deleted paths (empty on ranks other than 0).
    """
    if _rank() != 0 or not osp.isdir(work_dir):
        return []
    removed = []
    for name in sorted(os.listdir(work_dir)):
        path = osp.join(work_dir, name)
        if STALE_TMP.fullmatch(name) and osp.isfile(path):
            os.remove(path)
            removed.append(path)
    if removed:
        print_log(f'removed {len(removed)} temporary file(s) of an interrupted checkpoint write: {removed}', 'current')
    return removed


def _move_aside(path: str) -> str:
    target, count = path + UNREADABLE_SUFFIX, 1
    while osp.exists(target):
        count += 1
        target = f'{path}{UNREADABLE_SUFFIX}{count}'
    os.replace(path, target)
    return target


def _newer_than_pointer(named: str, pointer: str, complete: list[tuple[int, str]]) -> str:
    """``named``, unless a complete numbered checkpoint with a larger ``N`` was written after the pointer.

    mmengine writes ``iter_N.pth`` and then updates ``last_checkpoint``: a kill between the two
    leaves a complete newer checkpoint the pointer does not name yet. A larger ``N`` written
    *before* the pointer is a previous run's, and the pointer still wins over it.
    """
    match = NUMBERED.fullmatch(osp.basename(named))
    if match is None:
        return named
    written = osp.getmtime(pointer)
    newer = [(n, path) for n, path in complete if n > int(match.group(1)) and osp.getmtime(path) > written]
    if not newer:
        return named
    chosen = max(newer)[1]
    print_log(f'{pointer} names {named!r}, but {chosen!r} was written after it: resuming from the newer', 'current')
    return chosen


def find_resumable_checkpoint(work_dir: str) -> str | None:
    """The checkpoint ``--resume auto`` continues from.

    mmengine's ``last_checkpoint`` pointer when it names a complete file (or a complete
    ``iter_N.pth`` with a larger ``N`` written after the pointer: a kill between the checkpoint
    and the pointer update); otherwise the complete ``iter_N.pth``/``epoch_N.pth`` in
    ``work_dir`` with the largest ``N``.
    Numbered checkpoints that are not complete are moved aside to ``<name>.unreadable``
    (by rank 0, with a log line), so the resumed run never overwrites a file nobody could read.

    Args:
        work_dir: The run's work directory.

    Returns:
        The checkpoint path, or None when the folder holds no checkpoint at all.

    Raises:
        CheckpointError: There are checkpoints but none is readable: rather than start over
            silently, the run stops and says where the unreadable files went.
    """
    if not osp.isdir(work_dir):
        return None
    complete, unreadable = [], []
    for name in os.listdir(work_dir):
        match = NUMBERED.fullmatch(name)
        path = osp.join(work_dir, name)
        if match and is_complete_checkpoint(path):
            complete.append((int(match.group(1)), path))
        elif match or (name.startswith(('iter_', 'epoch_')) and UNREADABLE_SUFFIX in name):
            unreadable.append(path)

    pointer = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(pointer):
        with open(pointer) as file:
            named = file.read().strip() or None
        if named and not is_complete_checkpoint(named):
            print_log(f'{pointer} names {named!r}, which is not a complete checkpoint; searching {work_dir}', 'current')
            named = None

    fresh = [path for path in unreadable if NUMBERED.fullmatch(osp.basename(path))]
    if fresh and _rank() == 0:
        moved = [f'{path} -> {_move_aside(path)}' for path in sorted(fresh)]
        print_log(
            f'--resume auto: moved unreadable checkpoints aside: {moved}', logger='current', level=logging.WARNING
        )
    if named is not None:
        return _newer_than_pointer(named, pointer, complete)
    if complete:
        return max(complete)[1]
    if unreadable:
        raise CheckpointError(
            f'--resume auto: {work_dir} holds checkpoints but none is readable: {sorted(unreadable)} (moved aside '
            f'with the suffix {UNREADABLE_SUFFIX!r}, not deleted). Resume from a good file with --resume PATH, or '
            'start a new run without --resume (or in another --work-dir).'
        )
    return None
