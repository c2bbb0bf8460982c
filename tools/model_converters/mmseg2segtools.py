"""Convert MMSegmentation 1.x segmentor checkpoints (and OpenMMLab ResNetV1c) to segtools.

Usage::

    python tools/model_converters/mmseg2segtools.py encnet_r50-d8_512x512_80k_ade20k.pth encnet.pth \\
        --arch encnet --config configs/encnet/encnet_r50-d8_4xb4-80k_ade20k-512x512.py
    python tools/model_converters/mmseg2segtools.py fastfcn_r50-d32_jpu_psp.pth fastfcn.pth --arch jpu_psp
    python tools/model_converters/mmseg2segtools.py resnet50_v1c-2cccc1ad.pth r50c.pth --arch resnet_v1c

``--arch`` is the decode head of a segmentor (``fcn``, ``psp``, ``deeplabv3``, ``deeplabv3plus``,
``encnet``, ``upernet``, ``danet``), prefixed by ``jpu_`` when the model has FastFCN's JPU neck
(``jpu_psp``, ``jpu_encnet``, ``jpu_deeplabv3``), or the backbone ``resnet_v1c``. ``--config`` may be
the mmseg config itself. The renamings are documented in :mod:`segtools.weights.converters.mmseg`;
``tools/test.py``, ``tools/train.py`` (``load_from``, resume) and ``segtools.apis.init_model`` apply
the same conversion on load when a checkpoint is in mmseg's layout, so converting beforehand is
optional.
"""

from __future__ import annotations

from _converter_cli import run_cli

from segtools.utils.cli import run_tool
from segtools.weights.converters import mmseg


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
