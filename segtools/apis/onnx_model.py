"""An exported segmentor (``tools/deployment/pytorch2onnx.py``) run by onnxruntime.

:class:`OnnxRuntimeLogits` wraps the onnxruntime session: preprocessed images
``(N, 3, H, W)`` in, logits ``(N, K, H, W)`` out. :class:`OnnxSegmentor` puts it where a
PyTorch segmentor's network would be, so :func:`~segtools.apis.inference_model`,
:func:`~segtools.apis.show_result` and :func:`~segtools.apis.save_prediction_png` work on it
unchanged: the config's test pipeline and data preprocessor prepare the images, and the
segmentors' :meth:`~segtools.models.segmentors.base.BaseSegmentor.postprocess_result` crops,
resizes and takes the argmax. Build one with :func:`init_onnx_model`.

onnxruntime is imported only when a session is made: segtools itself never needs it
(``pip install -r requirements/deploy.txt`` installs the deployment packages).
"""

import importlib
import json
import os
from pathlib import Path
from types import ModuleType

import torch
from mmengine.config import Config
from torch import nn

from segtools.errors import ConfigError, SegtoolsError
from segtools.models.segmentors.base import BaseSegmentor
from segtools.structures import SampleList
from segtools.utils import register_all_modules

from .model_loading import resolve_dataset_meta

#: Names of the exported graph's input (preprocessed images) and output (logits).
INPUT_NAME = 'inputs'
OUTPUT_NAME = 'logits'
#: Metadata key of the model's ``classes``/``palette`` (JSON) in an exported file.
META_KEY = 'segtools.dataset_meta'
DEPLOY_INSTALL = 'pip install -r requirements/deploy.txt'


class DeployDependencyError(SegtoolsError, ImportError):
    """A package of the deployment tools (onnx, onnxruntime, onnxscript) is not installed."""


class OnnxModelError(SegtoolsError, ValueError):
    """An ONNX file that cannot be loaded, or is not a model exported by segtools."""


def import_deploy_module(name: str) -> ModuleType:
    """Imports a deployment package, or says how to install it.

    Raises:
        DeployDependencyError: ``name`` cannot be imported; the message gives the install command.
    """
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise DeployDependencyError(
            f'{name} is not installed ({error}); install the deployment packages with `{DEPLOY_INSTALL}`'
        ) from error


def check_io_names(session, source: str) -> None:
    """Checks that a session's model takes ``inputs`` ``(N, C, H, W)`` and gives ``logits`` ``(N, K, H, W)``.

    Args:
        session: An ``onnxruntime.InferenceSession``.
        source: The model's name in messages.

    Raises:
        OnnxModelError: Other inputs or outputs (names or ranks), naming what the file has.
    """
    inputs, outputs = session.get_inputs(), session.get_outputs()
    found = f'inputs {[(i.name, i.shape) for i in inputs]}, outputs {[(o.name, o.shape) for o in outputs]}'
    if [i.name for i in inputs] != [INPUT_NAME] or [o.name for o in outputs] != [OUTPUT_NAME]:
        raise OnnxModelError(
            f'{source} is not a segmentor exported by tools/deployment/pytorch2onnx.py: expected one input '
            f'{INPUT_NAME!r} (N, 3, H, W) and one output {OUTPUT_NAME!r} (N, K, H, W), got {found}'
        )
    if len(inputs[0].shape) != 4 or len(outputs[0].shape) != 4:
        raise OnnxModelError(f'{source}: expected a 4-d input and a 4-d output, got {found}')


class OnnxRuntimeLogits:
    """An onnxruntime session of an exported segmentor, called like its ``encode_decode``.

    Args:
        model: Path of the ``.onnx`` file, or its bytes.
        num_threads: onnxruntime's intra-op threads; ``None``: its default (all cores).

    Raises:
        DeployDependencyError: onnxruntime is not installed.
        OnnxModelError: The file cannot be loaded or has other inputs/outputs
            (see :func:`check_io_names`).
    """

    def __init__(self, model: str | os.PathLike | bytes, num_threads: int | None = None) -> None:
        ort = import_deploy_module('onnxruntime')
        self.source = 'the ONNX model' if isinstance(model, bytes) else f'ONNX model {os.fspath(model)}'
        options = ort.SessionOptions()
        options.log_severity_level = 4  # fatal only: errors reach the caller as exceptions
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
        # Idle worker threads sleep instead of spinning: spinning ones take the cores from
        # PyTorch (or other sessions) running next to this one, e.g. when latencies are compared.
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        if not isinstance(model, bytes):
            model = os.fspath(model)
            if not os.path.isfile(model):
                raise OnnxModelError(f'{self.source} does not exist')
        try:
            self.session = ort.InferenceSession(model, sess_options=options, providers=['CPUExecutionProvider'])
        except Exception as error:  # noqa: BLE001 - onnxruntime raises its own unexported classes
            raise OnnxModelError(f'cannot load {self.source}: {type(error).__name__}: {error}') from error
        check_io_names(self.session, self.source)
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    @property
    def num_classes(self) -> int | None:
        """``K`` of the output ``(N, K, H, W)``, or ``None`` when the file leaves it symbolic."""
        channels = self.session.get_outputs()[0].shape[1]
        return channels if isinstance(channels, int) else None

    @property
    def dataset_meta(self) -> dict | None:
        """``classes``/``palette`` stored at export (:data:`META_KEY`), or ``None``."""
        if META_KEY not in self.metadata:
            return None
        try:
            meta = json.loads(self.metadata[META_KEY])
        except json.JSONDecodeError as error:
            raise OnnxModelError(f'{self.source}: metadata {META_KEY!r} is not JSON: {error}') from error
        return dict(meta, classes=tuple(meta.get('classes', ())))

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, K, H, W)`` float32 of preprocessed images ``(N, 3, H, W)``, on ``inputs``' device."""
        array = inputs.detach().to(device='cpu', dtype=torch.float32).contiguous().numpy()
        (logits,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: array})
        return torch.from_numpy(logits).to(inputs.device)


class OnnxSegmentor(BaseSegmentor):
    """A segmentor whose network is an exported ONNX model: predictions as the PyTorch model makes them.

    Only ``predict`` (and ``'tensor'`` mode, the logits at the input size) work; there is
    nothing to train.

    Args:
        runtime: The session.
        data_preprocessor: The config's ``model.data_preprocessor``.
        align_corners: ``align_corners`` of the decode head (resizing the logits to the image).
        threshold: Sigmoid threshold of a one-channel (binary) model; ``None`` otherwise.
    """

    def __init__(
        self,
        runtime: OnnxRuntimeLogits,
        data_preprocessor: dict | nn.Module | None = None,
        align_corners: bool = False,
        threshold: float | None = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.runtime = runtime
        self.align_corners = align_corners
        self.threshold = threshold

    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError('an ONNX segmentor gives logits only; features stay inside the graph')

    def loss(self, inputs: torch.Tensor, data_samples: SampleList) -> dict:
        raise NotImplementedError('an ONNX segmentor cannot be trained')

    def predict(self, inputs: torch.Tensor, data_samples: SampleList | None = None) -> SampleList:
        """Samples with ``seg_logits`` and ``pred_sem_seg`` at the original size (see ``postprocess_result``)."""
        return self.postprocess_result(self.runtime(inputs), data_samples)

    def _forward(self, inputs: torch.Tensor, data_samples: SampleList | None = None) -> torch.Tensor:
        return self.runtime(inputs)


def init_onnx_model(
    config: str | Path | Config,
    onnx_file: str | os.PathLike,
    cfg_options: dict | None = None,
    num_threads: int | None = None,
) -> OnnxSegmentor:
    """An exported model ready for :func:`~segtools.apis.inference_model`, like :func:`~segtools.apis.init_model`.

    The config gives the test pipeline, the data preprocessor and the decode head's
    ``align_corners``/``threshold``; ``dataset_meta`` is the one stored at export, else the
    config's test dataset's (:func:`~segtools.apis.model_loading.resolve_dataset_meta`).
    Runs on onnxruntime's CPU provider.

    Args:
        config: The config the model was exported from (path or ``Config``, not modified).
        onnx_file: The ``.onnx`` file.
        cfg_options: Overrides merged into the config.
        num_threads: onnxruntime's intra-op threads (``None``: all cores).

    Returns:
        The model in eval mode, with ``cfg`` and ``dataset_meta`` attributes.

    Raises:
        DeployDependencyError: onnxruntime is not installed.
        OnnxModelError: The file cannot be loaded or is not an exported segmentor.
        segtools.errors.ConfigError: The config has no ``model.decode_head``, or its classes
            disagree in number with the model's output channels.
    """
    from .inference import _load_config  # the same config handling as init_model

    cfg = _load_config(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    head = cfg.model.get('decode_head')
    if not isinstance(head, dict):
        raise ConfigError(f'config {cfg.filename} has no model.decode_head: an ONNX model needs a segmentor config')
    register_all_modules()
    runtime = OnnxRuntimeLogits(onnx_file, num_threads=num_threads)
    num_classes = runtime.num_classes
    threshold = head.get('threshold')
    if num_classes == 1 and threshold is None:
        threshold = 0.3  # BaseDecodeHead's default for binary segmentation
    model = OnnxSegmentor(
        runtime,
        data_preprocessor=cfg.model.get('data_preprocessor'),
        align_corners=bool(head.get('align_corners', False)),
        threshold=threshold,
    )
    model.cfg = cfg
    meta = runtime.dataset_meta
    stored = {'meta': {'dataset_meta': meta}} if meta else None
    model.dataset_meta = resolve_dataset_meta(stored, os.fspath(onnx_file), cfg, num_classes)
    return model.eval()


__all__ = [
    'DEPLOY_INSTALL',
    'INPUT_NAME',
    'META_KEY',
    'OUTPUT_NAME',
    'DeployDependencyError',
    'OnnxModelError',
    'OnnxRuntimeLogits',
    'OnnxSegmentor',
    'check_io_names',
    'import_deploy_module',
    'init_onnx_model',
]
