"""Carry the global random states through checkpoints, and keep validation from drawing on them."""

import logging
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop

from segtools.registry import HOOKS

# Top-level key of the states in a checkpoint.
CHECKPOINT_KEY = 'random_state'


def get_random_state() -> dict:
    """The state of every global generator a training step draws from, as plain data.

    Plain data (tensors, ints, floats, None) so checkpoints keep loading with
    ``torch.load(weights_only=True)``.

    Returns:
        ``{'torch': uint8 tensor, 'cuda': [uint8 tensor per device], 'numpy': {...},
        'python': {...}}``.
    """
    keys, pos, has_gauss, cached = np.random.get_state(legacy=True)[1:]
    version, internal, gauss_next = random.getstate()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    return {
        'torch': torch.get_rng_state(),
        'cuda': list(cuda),
        'numpy': {
            'keys': torch.from_numpy(keys.astype(np.int64)),
            'pos': int(pos),
            'has_gauss': int(has_gauss),
            'cached_gaussian': float(cached),
        },
        'python': {'version': int(version), 'internal': torch.tensor(internal, dtype=torch.int64), 'gauss': gauss_next},
    }


def set_random_state(state: dict) -> None:
    """Restores what :func:`get_random_state` returned (CUDA states only where CUDA is in use)."""
    torch.set_rng_state(state['torch'])
    if state['cuda'] and torch.cuda.is_available():
        if len(state['cuda']) != torch.cuda.device_count():
            print_log(
                f'the checkpoint holds CUDA random states of {len(state["cuda"])} devices, this machine has '
                f'{torch.cuda.device_count()}; CUDA generators keep their seeds',
                logger='current',
                level=logging.WARNING,
            )
        else:
            torch.cuda.set_rng_state_all(state['cuda'])
    numpy_state = state['numpy']
    keys = numpy_state['keys'].numpy().astype(np.uint32)
    np.random.set_state(('MT19937', keys, numpy_state['pos'], numpy_state['has_gauss'], numpy_state['cached_gaussian']))
    python_state = state['python']
    random.setstate((python_state['version'], tuple(python_state['internal'].tolist()), python_state['gauss']))


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Makes a resumed run draw the same random numbers as an uninterrupted one.

    mmengine checkpoints hold the weights, optimizer, schedulers and counters but not the
    global generators (torch, CUDA, numpy, Python), from which dropout, DropBlock and any
    transform using global randomness draw. This hook:

    - saves their states in every checkpoint (``checkpoint['random_state']``, plain tensors);
    - on resume, restores them where the uninterrupted run was when it saved: for
      iteration-based loops after mmengine has advanced the data loader past the iterations
      already trained (the first ``before_train_iter``), for epoch-based loops at the start
      of the next epoch (``before_train_epoch``, before its data-loader iterator draws a
      worker seed). Loading weights for fine-tuning (``load_from`` without ``resume``, so the
      run starts at iteration 0) leaves the generators as the run's seed set them;
    - saves the states before every validation and restores them after it, so validating
      (which starts data-loader iterators, each drawing a seed) never changes what training
      draws: a run is the same with or without validation, and a run resumed from a
      checkpoint saved where the uninterrupted run then validated continues identically.

    The per-sample augmentation streams need none of this: they follow from the seed and the
    sampler's draw (see :mod:`segtools.datasets.transforms.rng`). In distributed runs the
    checkpoint (written by rank 0) holds rank 0's states and every rank restores them, which
    is exact when the ranks share one seed (mmengine's default, ``diff_rank_seed=False``).
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._pending: dict | None = None
        self._before_validation: dict | None = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = get_random_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get(CHECKPOINT_KEY)

    def before_train_epoch(self, runner) -> None:
        if not isinstance(runner.train_loop, IterBasedTrainLoop):
            self._restore(runner)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._restore(runner)

    def _restore(self, runner) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        if runner.iter == 0 and runner.epoch == 0:
            return  # weights loaded to start a new run: the run's own seed stands
        set_random_state(state)
        print_log(f'restored the random states saved at iteration {runner.iter}', logger='current')

    def before_val(self, runner) -> None:
        self._before_validation = get_random_state()

    def after_val(self, runner) -> None:
        if self._before_validation is not None:
            set_random_state(self._before_validation)
            self._before_validation = None
