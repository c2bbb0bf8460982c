"""Refuse to evaluate, fine-tune or resume from weights that do not fit the model."""

import logging

from mmengine.hooks import Hook
from mmengine.logging import print_log

from segtools.registry import HOOKS
from segtools.utils.state_dict_check import (
    CheckpointMismatchError,
    LayoutConversion,
    StateDictMismatch,
    checkpoint_state_dict,
    compare_state_dict,
    convert_foreign_layout,
    replace_checkpoint_state_dict,
    unwrap_model,
)


@HOOKS.register_module()
class StrictLoadHook(Hook):
    """Checks ``load_from`` / resume checkpoints against the model before mmengine loads them.

    mmengine's ``Runner.load_checkpoint`` loads with ``strict=False``: a checkpoint of another
    class count or architecture only logs "size mismatch" / "missing keys" and the run goes on
    with randomly initialised weights, so ``tools/test.py`` prints the metric of a model that
    was never loaded. This hook runs in ``after_load_checkpoint`` (before the weights are
    copied) and raises :class:`CheckpointMismatchError` naming the checkpoint and the first
    keys of each kind of difference, unless partial loading was asked for explicitly; then it
    logs the same list as a warning and mmengine loads what fits.

    A checkpoint trained by MMSegmentation 1.x names some modules differently: when renaming
    its keys by the model's mmseg conversion
    (:func:`~segtools.utils.state_dict_check.convert_foreign_layout`) makes it fit exactly, the
    checkpoint's weights are replaced by the renamed ones and one line says so. With partial
    loading the renamed weights are used when fewer keys differ (fine-tuning an mmseg model on
    another class count). Resuming needs the optimizer state too, which is indexed by parameter
    position: a converted checkpoint whose parameter order differs from the model's is refused.

    Args:
        allow_partial_load: Load what fits and keep the rest as initialised (fine-tuning from a
            checkpoint of another dataset). ``tools/train.py``/``tools/test.py``
            ``--allow-partial-load`` or the config key ``allow_partial_load = True`` set it.
        checkpoint_name: What to call the checkpoint in messages (default: the runner's
            ``load_from``).
    """

    priority = 'VERY_HIGH'

    def __init__(self, allow_partial_load: bool = False, checkpoint_name: str | None = None) -> None:
        self.allow_partial_load = allow_partial_load
        self.checkpoint_name = checkpoint_name

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = unwrap_model(runner.model)
        state = checkpoint_state_dict(checkpoint)
        mismatch = compare_state_dict(model.state_dict(), state)
        if not mismatch:
            return
        name = self.checkpoint_name or getattr(runner, '_load_from', None) or 'the checkpoint'
        converted = convert_foreign_layout(model, state)
        if self._use_conversion(converted, mismatch):
            if getattr(runner, '_resume', False) and 'optimizer' in checkpoint and not converted.keeps_parameter_order:
                raise CheckpointMismatchError(
                    f"{converted.describe(name)}, but its optimizer state follows {converted.source}'s order of the "
                    "parameters, which segtools' model does not share: it cannot be resumed. Start from its weights "
                    'instead (load_from, without --resume).'
                )
            replace_checkpoint_state_dict(checkpoint, converted.state_dict)
            print_log(converted.describe(name), logger='current')
            mismatch = converted.mismatch
            if not mismatch:
                return
        if self.allow_partial_load:
            print_log(
                f'allow_partial_load: loading only the matching weights of {name}; the rest keep their initial '
                f'values:\n  {mismatch.summary()}',
                logger='current',
                level=logging.WARNING,
            )
            return
        raise CheckpointMismatchError(
            f'checkpoint {name} does not fit the model of this config (another class count or architecture?):\n'
            f'  {mismatch.summary()}\n'
            'Use the config the checkpoint was trained with. To load only the matching weights on purpose '
            '(fine-tuning), pass --allow-partial-load or set allow_partial_load = True in the config.'
        )

    def _use_conversion(self, converted: LayoutConversion | None, mismatch: StateDictMismatch) -> bool:
        """Converted weights are used when they fit, or with partial loading when fewer keys differ."""
        if converted is None:
            return False
        return not converted.mismatch or (self.allow_partial_load and len(converted.mismatch) < len(mismatch))
