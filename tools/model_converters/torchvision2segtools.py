"""Convert torchvision / timm ImageNet ResNet, ResNeXt and ResNeSt weights to segtools backbones.

Usage::

    python tools/model_converters/torchvision2segtools.py resnet50-0676ba61.pth r50.pth --arch resnet50 \\
        --config configs/pspnet/pspnet_r50-d8_4xb4-80k_ade20k-512x512.py

The layouts are documented in :mod:`segtools.weights.converters.torchvision`. The output holds
backbone keys without a ``backbone.`` prefix (a backbone's ``pretrained``), the classifier ``fc``
dropped; ``--arch <name>:classifier`` (``resnet50:classifier``) gives the whole ImageNet classifier as
an ``ImageClassifier`` (backbone under ``backbone.``, ``fc`` as ``head.fc``).
"""

from __future__ import annotations

from _converter_cli import run_cli

from segtools.utils.cli import run_tool
from segtools.weights.converters import torchvision


def main(argv: list[str] | None = None) -> int:
    return run_cli(
        argv,
        description=__doc__.split('\n\n')[0],
        archs=torchvision.ARCHS,
        convert_fn=torchvision.convert_with_report,
        backbone_archs=torchvision.BACKBONE_ARCHS,
        source=torchvision.SOURCE,
    )


if __name__ == '__main__':
    run_tool(main)
