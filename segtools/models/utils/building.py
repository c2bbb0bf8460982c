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
