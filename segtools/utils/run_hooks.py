"""The hooks every ``tools/train.py`` / ``tools/test.py`` run gets, whatever its config lists."""

from mmengine.hooks import Hook

from segtools.engine.hooks import (
    BufferBroadcastHook,
    NumClassCheckHook,
    PlainCheckpointStateHook,
    RandomStateHook,
    StrictLoadHook,
)


def register_run_hooks(runner, allow_partial_load: bool = False) -> list[Hook]:
    """Registers the safety hooks on ``runner`` (each once, also if the config already lists it).

    - :class:`~segtools.engine.hooks.PlainCheckpointStateHook`: checkpoints hold plain data
      only, so they load with ``weights_only=True``;
    - :class:`~segtools.engine.hooks.RandomStateHook`: resume continues the random streams;
    - :class:`~segtools.engine.hooks.StrictLoadHook`: ``load_from`` and resume checkpoints must
      fit the model, those in MMSegmentation's layout once renamed (one log line says so);
      ``allow_partial_load`` relaxes it, with a warning;
    - :class:`~segtools.engine.hooks.NumClassCheckHook`: heads' ``num_classes`` match the data;
    - :class:`~segtools.engine.hooks.BufferBroadcastHook`: distributed validation uses rank 0's
      buffers (BN statistics), the ones its checkpoint holds.

    Call it after building the runner and before ``train()``/``test()``/``val()``.

    Args:
        runner: The mmengine ``Runner``.
        allow_partial_load: Load only the matching weights of a checkpoint that does not fit.

    Returns:
        The hook instances in effect (newly registered or already present).
    """
    wanted = [
        (PlainCheckpointStateHook, {}),
        (RandomStateHook, {}),
        (StrictLoadHook, {'allow_partial_load': allow_partial_load}),
        (NumClassCheckHook, {}),
        (BufferBroadcastHook, {}),
    ]
    in_effect = []
    for hook_type, kwargs in wanted:
        present = next((hook for hook in runner.hooks if isinstance(hook, hook_type)), None)
        if present is None:
            present = hook_type(**kwargs)
            runner.register_hook(present)
        elif isinstance(present, StrictLoadHook):
            present.allow_partial_load = present.allow_partial_load or allow_partial_load
        in_effect.append(present)
    return in_effect
