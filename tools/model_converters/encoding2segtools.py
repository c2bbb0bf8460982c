"""Convert PyTorch-Encoding checkpoints (backbones, ImageNet classifiers, segmentation models) to segtools.

Usage::

    python tools/model_converters/encoding2segtools.py resnet50s-a75c83cf.pth r50s.pth --arch resnet50s
    python tools/model_converters/encoding2segtools.py encnet_resnet50s_ade.pth encnet.pth \\
        --arch encnet_resnet50s --config configs/encnet/encnet_r50s-d8_4xb4-180e_ade20k-480x480.py
    python tools/model_converters/encoding2segtools.py resnest50-fb9de5b3.pth s50_in1k.pth \\
        --arch resnest50:classifier

``--arch`` is a backbone (``resnet50s``, ``resnest50``, ``wideresnet38`` ...; the ImageNet ``fc`` is
dropped), ``<backbone>:classifier`` (ResNet-family backbones: the ImageNet classifier as an
``ImageClassifier``, backbone under ``backbone.``, ``fc`` as ``head.fc``), ``deepten_resnet50``
(Deep TEN, an ``ImageClassifier`` with ``DeepTENHead``) or ``<model>_<backbone>`` with model ``fcn``,
``fcn-global``, ``psp``, ``encnet``, ``deeplab``, ``fcfpn``, ``upernet`` or ``atten`` (``atten`` is the
only model on ``wideresnet38/50``). With ``--config`` a backbone is checked against the config's
``model.backbone`` (or its ``model`` when it has no backbone), anything else against its ``model``.
The key layouts are documented in :mod:`segtools.weights.converters.encoding`; ``segtools://<name>``
converts the same way on load.
"""

from __future__ import annotations

from _converter_cli import run_cli

from segtools.utils.cli import run_tool
from segtools.weights.converters import encoding


def main(argv: list[str] | None = None) -> int:
    return run_cli(
        argv,
        description=__doc__.split('\n\n')[0],
        archs=encoding.ARCHS,
        convert_fn=encoding.convert_with_report,
        backbone_archs=encoding.BACKBONE_ARCHS,
        source=encoding.SOURCE,
    )


if __name__ == '__main__':
    run_tool(main)
