"""Export of a segmentor's whole-image inference to ONNX, with dynamic batch, height and width.

The exported graph maps a preprocessed (normalised) image batch ``inputs`` ``(N, 3, H, W)``
float32 to the decode head's logits ``logits`` ``(N, K, H, W)`` at the input size, i.e.
:meth:`EncoderDecoder.encode_decode` (whole-image inference: no sliding window, no
test-time augmentation). Loading and preprocessing stay outside the graph: the config's test
pipeline and the model's data preprocessor produce ``inputs``, and
:meth:`BaseSegmentor.postprocess_result` (crop the padding, resize to the original size,
argmax) turns the logits into labels (see :class:`segtools.apis.onnx_model.OnnxSegmentor`).

The exporter is ``torch.onnx.export(..., dynamo=True)`` (``torch.export`` then onnxscript),
the default and maintained one since PyTorch 2.9; the TorchScript-based exporter is
deprecated. segtools' compiled ops take their plain-PyTorch references during export
(:func:`segtools.ops._utils.is_exporting`), so no custom ONNX op is needed; adaptive pooling
into several bins (PSPNet, UPerNet, DRANet) computes its bins from the symbolic size there
(:mod:`segtools.models.utils.adaptive_pool`), so it does not fix the height or width.

``onnx``/``onnxscript`` are imported only when :func:`export_onnx` runs.
"""

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator, Mapping

import torch
from torch import nn

from segtools.errors import ConfigError, SegtoolsError

from .onnx_model import INPUT_NAME, META_KEY, OUTPUT_NAME, import_deploy_module

#: Smallest height and width the exported graph is declared for (a stride-8 or stride-32
#: backbone still gives a feature map of at least one pixel).
MIN_SIZE = 32
# The exporter's modules that log about optional packages (torchvision ops) on every export.
_NOISY_LOGGERS = ('torch.onnx', 'torch.export', 'torch._export', 'torch.fx.experimental.symbolic_shapes')


class OnnxExportError(SegtoolsError, RuntimeError):
    """The model could not be exported with dynamic sizes (its code made a size a constant)."""


class WholeImageLogits(nn.Module):
    """A segmentor's whole-image inference as a module of one tensor (what is exported).

    Args:
        segmentor: A segmentor with ``encode_decode`` (:class:`EncoderDecoder`), in eval mode.

    Shape:
        - Input: preprocessed images ``(N, 3, H, W)``.
        - Output: logits ``(N, K, H, W)`` at the input size.

    Raises:
        segtools.errors.ConfigError: The model is not an encoder-decoder segmentor.
    """

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        if not callable(getattr(segmentor, 'encode_decode', None)):
            raise ConfigError(
                f'ONNX export needs a segmentor with encode_decode (EncoderDecoder), got {type(segmentor).__name__}'
            )
        self.segmentor = segmentor

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        # One meta for the batch: encode_decode replaces its shapes by the input's, and the
        # heads resize every image to that one size. A list as long as the batch would pin
        # the batch size into the graph.
        return self.segmentor.encode_decode(inputs, [{}])


def export_onnx(
    segmentor: nn.Module,
    example: torch.Tensor,
    *,
    opset: int | None = None,
    dataset_meta: Mapping | None = None,
) -> bytes:
    """Exports ``segmentor``'s whole-image inference to an ONNX model.

    Batch, height and width are dynamic (height and width at least :data:`MIN_SIZE`); the
    segmentor's ``test_cfg`` does not matter (no slide window, no TTA in the graph).

    Args:
        segmentor: An :class:`EncoderDecoder` in eval mode (from :func:`~segtools.apis.init_model`).
        example: A preprocessed batch ``(N, 3, H, W)`` float32 on the segmentor's device, traced once.
        opset: ONNX opset of the default domain; ``None``: the exporter's default.
        dataset_meta: ``classes``/``palette`` stored in the model's metadata under
            :data:`~segtools.apis.onnx_model.META_KEY` (read back by
            :func:`~segtools.apis.onnx_model.init_onnx_model`).

    Returns:
        The serialized ONNX model (weights included; at most 2 GB, protobuf's limit).

    Raises:
        segtools.apis.onnx_model.DeployDependencyError: onnx or onnxscript is not installed.
        segtools.errors.ConfigError: Not an encoder-decoder, or ``example`` is not ``(N, 3, H, W)``
            of at least ``MIN_SIZE`` pixels.
        OnnxExportError: The exporter fixed the batch, height or width to the example's
            (``torch.export`` specialises a size the model's code depends on as a number).
    """
    for module in ('onnx', 'onnxscript'):
        import_deploy_module(module)
    if example.dim() != 4 or min(example.shape[2:]) < MIN_SIZE:
        raise ConfigError(f'the example input must be (N, C, H, W) with H, W >= {MIN_SIZE}, got {tuple(example.shape)}')
    wrapper = WholeImageLogits(segmentor).eval()
    dims = torch.export.Dim
    dynamic = {'inputs': {0: dims('batch', min=1), 2: dims('height', min=MIN_SIZE), 3: dims('width', min=MIN_SIZE)}}
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            wrapper,
            (example,),
            dynamo=True,
            verbose=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=dynamic,
            opset_version=opset,
        )
    proto = program.model_proto
    _check_dynamic(proto, tuple(example.shape))
    if dataset_meta is not None:
        entry = proto.metadata_props.add()
        entry.key, entry.value = META_KEY, json.dumps(_jsonable(dataset_meta))
    return proto.SerializeToString()


def _check_dynamic(proto, example_shape: tuple[int, ...]) -> None:
    """Raises :class:`OnnxExportError` unless the input's batch, height and width are symbolic."""
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    fixed = [
        f'{name} = {dims[axis].dim_value}'
        for axis, name in ((0, 'batch'), (2, 'height'), (3, 'width'))
        if not dims[axis].dim_param
    ]
    if fixed:
        raise OnnxExportError(
            f'the export fixed {", ".join(fixed)} (example input {example_shape}): the model uses a size as a '
            'constant where torch.export traces it (e.g. compares it or turns it into a Python number), so the ONNX '
            'model would only accept that size'
        )


def _jsonable(meta: Mapping) -> dict:
    """``classes`` and ``palette`` as JSON lists (tuples and numpy ints become lists and ints)."""
    out = {'classes': [str(name) for name in meta.get('classes', ())]}
    if meta.get('palette') is not None:
        out['palette'] = [[int(value) for value in color] for color in meta['palette']]
    return out


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silences the exporter's notes about optional packages and its deprecation warnings."""
    levels = {name: logging.getLogger(name).level for name in _NOISY_LOGGERS}
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', category=FutureWarning)
            warnings.filterwarnings('ignore', category=DeprecationWarning)
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
