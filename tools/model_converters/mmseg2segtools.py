"""Convert MMSegmentation EncNet, PSPNet, DeepLabV3 and FCN checkpoints (and OpenMMLab ResNetV1c) to segtools.

Usage::

    python tools/model_converters/mmseg2segtools.py encnet_r50-d8_512x512_80k_ade20k.pth encnet.pth \\
        --arch encnet --config configs/encnet/encnet_r50-d8_4xb4-80k_ade20k-512x512.py
    python tools/model_converters/mmseg2segtools.py resnet50_v1c-2cccc1ad.pth r50c.pth --arch resnet_v1c

``--arch`` is the decode head of a segmentor (``fcn``, ``psp``, ``deeplabv3``, ``encnet``) or the
backbone ``resnet_v1c``. The renamings are documented in :mod:`segtools.models.converters.mmseg`.
"""

from __future__ import annotations

from _converter_cli import run_cli

from segtools.models.converters import mmseg
from segtools.utils.cli import run_tool


def main(argv: list[str] | None = None) -> int:
    return run_cli(
        argv,
        description=__doc__.split('\n\n')[0],
        archs=mmseg.ARCHS,
        convert_fn=mmseg.convert_with_report,
        backbone_archs=mmseg.BACKBONE_ARCHS,
        source=mmseg.SOURCE,
    )


if __name__ == '__main__':
    run_tool(main)
