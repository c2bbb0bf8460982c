"""Helpers shared by backbones: mmseg's ``frozen_stages`` and ``norm_eval``, and the
refusal of mmseg options segtools does not implement (``dcn``, ``plugins``).

A backbone lists its stages as groups of modules, the stem first, validates
``frozen_stages`` with :func:`check_frozen_stages` in ``__init__``, and calls
:func:`freeze_stages` (and, with ``norm_eval``, :func:`set_norm_eval`) at the end of
``__init__`` and of ``train()``, because ``nn.Module.train`` would otherwise put
the frozen modules back into training mode.
"""

from collections.abc import Iterable, Sequence

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def check_frozen_stages(owner: str, frozen_stages: int, num_stages: int) -> None:
    """Validates ``frozen_stages`` against a backbone with a stem and ``num_stages`` stages.

    Args:
        owner: Class name for the error message.
        frozen_stages: -1 (nothing frozen), 0 (the stem) or ``k`` (the stem and
            stages ``1..k``).
        num_stages: Number of stages after the stem.

    Raises:
        ValueError: If ``frozen_stages`` is outside ``-1..num_stages``.
    """
    if not -1 <= frozen_stages <= num_stages:
        raise ValueError(
            f'{owner}: frozen_stages must be in -1..{num_stages} (-1: none, 0: the stem, '
            f'k: the stem and stages 1..k), got {frozen_stages}'
        )


def check_no_dcn_or_plugins(
    owner: str, dcn: dict | None, stage_with_dcn: Sequence[bool], plugins: Sequence[dict] | None
) -> None:
    """Accepts only the empty values of mmseg's deformable-conv and plugin options.

    mmseg's ResNet family takes ``dcn``/``stage_with_dcn`` (deformable convs from
    ``mmcv.ops``) and ``plugins`` (mmcv plugin layers inserted into the blocks);
    segtools never imports ``mmcv.ops`` and has no plugin mechanism, so configs may
    pass the defaults (``None``, all ``False``, ``None`` or ``[]``) and nothing else.

    Args:
        owner: Class name for the error message.
        dcn: Deformable conv config; must be ``None``.
        stage_with_dcn: Per-stage deformable-conv switches; must all be ``False``.
        plugins: Plugin configs; must be ``None`` or empty.

    Raises:
        ValueError: Naming the option and why it is refused.
    """
    if dcn is not None:
        raise ValueError(
            f"{owner}: dcn={dcn!r} needs mmcv.ops' deformable convolution, which segtools does not ship; use dcn=None"
        )
    if any(stage_with_dcn):
        raise ValueError(
            f'{owner}: stage_with_dcn={tuple(stage_with_dcn)} asks for deformable convolution (mmcv.ops), '
            'which segtools does not ship; leave every stage False'
        )
    if plugins:
        raise ValueError(
            f'{owner}: plugins={plugins!r} would insert mmcv plugin layers into the residual blocks, '
            'which segtools does not support; use plugins=None'
        )


def freeze_modules(modules: Iterable[nn.Module]) -> None:
    """Puts ``modules`` in eval mode and stops gradients to their parameters."""
    for module in modules:
        module.eval()
        for param in module.parameters():
            param.requires_grad = False


def freeze_stages(stages: Sequence[Sequence[nn.Module]], frozen_stages: int) -> None:
    """Freezes the stem and the first ``frozen_stages`` stages.

    Args:
        stages: Modules of each stage, the stem (stage 0) first.
        frozen_stages: Last stage to freeze; -1 freezes nothing.
    """
    freeze_modules(module for stage in stages[: frozen_stages + 1] for module in stage)


def set_norm_eval(module: nn.Module) -> None:
    """Puts every batch norm inside ``module`` in eval mode (frozen running statistics).

    Only ``_BatchNorm`` subclasses (``BatchNorm2d``, ``SyncBatchNorm``, ...) are
    affected, as in mmseg: group and layer norms have no running statistics.
    """
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.eval()
