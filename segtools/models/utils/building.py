"""Building a model's parts from configs: shared by the segmentors and the classifiers."""

from torch import nn

from segtools.registry import MODELS


def build_part(cfg: dict | nn.Module) -> nn.Module:
    """``cfg`` built from ``MODELS``, or ``cfg`` itself when it is already a module."""
    return cfg if isinstance(cfg, nn.Module) else MODELS.build(cfg)


def with_pretrained(backbone: dict | nn.Module, pretrained: str | None, owner: str) -> dict | nn.Module:
    """The backbone (config or module) with ``init_cfg=Pretrained(pretrained)`` (mmseg's ``model.pretrained``).

    Args:
        backbone: Backbone config or module.
        pretrained: Checkpoint path, URL or ``segtools://NAME``; ``None`` leaves ``backbone`` as it is.
        owner: The model's class name, for the error message.

    Raises:
        ValueError: The backbone already names its own ``pretrained`` or ``init_cfg``.
    """
    if pretrained is None:
        return backbone
    init_cfg = dict(type='Pretrained', checkpoint=pretrained)
    if isinstance(backbone, nn.Module):
        if getattr(backbone, 'init_cfg', None):
            raise ValueError(f'{owner}: pretrained is given and the backbone already has an init_cfg')
        backbone.init_cfg = init_cfg
        return backbone
    clash = [key for key in ('pretrained', 'init_cfg') if backbone.get(key)]
    if clash:
        raise ValueError(f'{owner}: pretrained is given and so is backbone.{clash[0]}; keep one')
    return {**backbone, 'init_cfg': init_cfg}


def build_tta_module(module: dict | nn.Module, data_preprocessor: dict | nn.Module | None) -> nn.Module:
    """The model a TTA wrapper fuses: ``module`` itself, or built from its config (segtools' ``MODELS``, so
    that segtools names resolve without a default scope) with ``data_preprocessor`` overriding its own."""
    if not isinstance(module, dict):
        return module
    module = dict(module)
    if data_preprocessor is not None:
        module['data_preprocessor'] = data_preprocessor
    return MODELS.build(module)


def check_neck_channels(neck: nn.Module, backbone: nn.Module, hint: str = '') -> None:
    """Raises ValueError when ``neck.in_channels`` differs from ``backbone.out_channels`` (both declared).

    Args:
        neck: The built neck.
        backbone: The built backbone.
        hint: Appended to the suggested fix in the message.
    """
    expected, given = getattr(backbone, 'out_channels', None), getattr(neck, 'in_channels', None)
    if expected is None or given is None:
        return
    given = (given,) if isinstance(given, int) else tuple(given)
    if given != tuple(expected):
        raise ValueError(
            f'neck.in_channels={list(given)} does not match the backbone: its out_channels are '
            f'{list(expected)}; set neck.in_channels={list(expected)}{hint}'
        )
