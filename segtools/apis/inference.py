"""High-level inference: build a model from a config and checkpoint, predict, draw, save.

The names and semantics follow mmseg's ``mmseg.apis`` (``init_model``, ``inference_model``,
``show_result_pyplot`` as :func:`show_result`), with these differences:

* checkpoints are loaded weights-only (:func:`segtools.weights.loading.load_from_local_safe`):
  a file that would run code when unpickled is refused with ``UnsafeCheckpointError``;
* ``dataset_meta`` comes from the checkpoint or the config's test dataset, and a class count
  that disagrees with the decode head raises instead of falling back to Cityscapes;
* ``torch.nn.SyncBatchNorm`` layers are reverted to local batch norms;
* image arrays are BGR everywhere (as ``cv2.imread``/``mmcv.imread`` return them), in
  :func:`inference_model` and :func:`show_result` alike;
* 16-bit images (files and arrays) are scaled to 0..255 by their real range
  (``LoadImageFromFile(bit_depth=..., value_range=...)``), for the model and the drawing alike;
* an image that cannot be read or prepared raises :class:`ImageReadError` naming it;
* :func:`show_result` reuses one visualizer per process and writes ``out_file`` atomically.

Example::

    model = init_model('configs/demo/fcn_r18-d8_brain-atlas.py', 'work_dirs/demo/iter_500.pth', device='cpu')
    result = inference_model(model, 'data/brain_atlas/img_dir/val/colin27_axial_057.png')
    show_result(model, 'data/brain_atlas/img_dir/val/colin27_axial_057.png', result, out_file='overlay.png')
"""

import copy
import functools
import os
import os.path as osp
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch import nn

from segtools.datasets.transforms import LoadImageFromFile
from segtools.datasets.transforms.intensity import to_8bit_range
from segtools.errors import SegtoolsError
from segtools.registry import MODELS
from segtools.structures import SegDataSample
from segtools.utils import register_all_modules
from segtools.utils.config_compat import load_config
from segtools.utils.fileio import atomic_write_bytes
from segtools.visualization import SegLocalVisualizer, save_palette_png

from .model_loading import load_weights, resolve_dataset_meta, revert_sync_batchnorm
from .pipeline import build_inference_pipelines, get_test_pipeline_cfg

ImageLike = str | os.PathLike | np.ndarray
# Arguments of the config's image loader that say how deep (16-bit) images are scaled.
DEPTH_ARGS = ('bit_depth', 'value_range')
# Name of the process-wide visualizer of show_result (not registered with mmengine's
# ManagerMixin, so it never becomes a runner's "current" visualizer).
VISUALIZER_NAME = 'segtools.apis.show_result'


class ImageReadError(SegtoolsError, ValueError):
    """An input image cannot be read or run through the test pipeline; the message names it."""


def _load_config(config: str | Path | Config) -> Config:
    if isinstance(config, str | Path):
        return load_config(str(config))
    if isinstance(config, Config):
        return copy.deepcopy(config)  # the caller's config stays as it was
    raise TypeError(f'config must be a file path or a mmengine Config, got {type(config).__name__}')


def _disable_downloads(cfg: Config) -> None:
    """Clears pretrained weights and initialisers: the checkpoint provides every weight."""
    model_cfg = cfg.model
    for key in ('pretrained', 'train_cfg'):
        if key in model_cfg:
            model_cfg[key] = None
    backbone = model_cfg.get('backbone')
    if isinstance(backbone, dict):
        for key in ('pretrained', 'init_cfg'):
            if key in backbone:
                backbone[key] = None


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise ValueError(f'device {device!r} is not a torch device string such as "cpu" or "cuda:0"') from error
    if resolved.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError(f'device {device!r} was asked for but CUDA is not available; use device="cpu"')
    return resolved


def _num_classes(model: nn.Module) -> int | None:
    # A segmentor's decode head, or a classifier's head.
    head = getattr(model, 'decode_head', None) or getattr(model, 'head', None)
    return getattr(model, 'num_classes', None) or getattr(head, 'num_classes', None)


def init_model(
    config: str | Path | Config,
    checkpoint: str | Path | None = None,
    device: str | torch.device | None = None,
    cfg_options: dict | None = None,
) -> nn.Module:
    """Builds a segmentor from a config and loads a checkpoint, ready for inference.

    Steps: load the config and merge ``cfg_options``; clear ``model.pretrained``,
    ``model.train_cfg`` and the backbone's ``pretrained``/``init_cfg`` so nothing downloads;
    register segtools and make ``'segtools'`` the default scope; build; revert
    ``torch.nn.SyncBatchNorm`` (segtools' ``SyncBN`` runs on one process and stays, see
    :func:`~segtools.apis.model_loading.revert_sync_batchnorm`); load the weights
    weights-only; attach ``model.cfg`` and ``model.dataset_meta``; move to ``device``; eval.

    ``model.dataset_meta`` (``classes``, ``palette``) is the checkpoint's
    ``meta.dataset_meta`` (what ``tools/train.py`` saves), else the ``METAINFO`` of the
    config's ``test_dataloader.dataset.type`` with its ``metainfo`` overrides.

    Args:
        config: Config file path or a ``Config`` (copied, not modified).
        checkpoint: Local checkpoint, ``{'state_dict': ..., 'meta': ...}`` or a bare state
            dict. ``None`` keeps the weights as constructed (random; for tests).
        device: ``'cpu'``, ``'cuda:0'``, ...; ``None`` means ``'cuda:0'`` when CUDA is
            available, else ``'cpu'``.
        cfg_options: Overrides merged into the config (``{'model.test_cfg.mode': 'slide'}``).

    Returns:
        The model in eval mode, with ``cfg`` and ``dataset_meta`` attributes.

    Raises:
        FileNotFoundError: The config or checkpoint does not exist.
        segtools.weights.loading.UnsafeCheckpointError: The checkpoint would run code when loaded.
        ValueError: The checkpoint does not fit the model, or the class names do not match
            the decode head's ``num_classes``.
    """
    cfg = _load_config(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    _disable_downloads(cfg)
    register_all_modules()
    target = _resolve_device(device)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    loaded = load_weights(model, str(checkpoint), cfg.filename) if checkpoint is not None else None
    model.cfg = cfg
    model.dataset_meta = resolve_dataset_meta(loaded, str(checkpoint), cfg, _num_classes(model))
    return model.to(target).eval()


def _prepare(img: ImageLike, index: int, pipelines: tuple) -> dict:
    """Runs the test pipeline on one path or BGR array; errors name the image."""
    from_file, from_array = pipelines
    if isinstance(img, np.ndarray):
        name, pipeline, data = f'image #{index} (array of shape {img.shape})', from_array, dict(img=img)
    elif isinstance(img, str | os.PathLike):
        name, pipeline, data = f'image {os.fspath(img)}', from_file, dict(img_path=os.fspath(img))
        if not osp.isfile(data['img_path']):
            raise FileNotFoundError(f'{name} does not exist')
    else:
        raise TypeError(f'image #{index}: expected a file path or an ndarray, got {type(img).__name__}')
    try:
        packed = pipeline(data)
    except Exception as error:  # noqa: BLE001 - re-raised with the image named
        raise ImageReadError(f'cannot read or prepare {name}: {type(error).__name__}: {error}') from error
    if packed is None:
        raise ImageReadError(f'the test pipeline dropped {name}')
    return packed


def inference_model(
    model: nn.Module, img: ImageLike | Sequence[ImageLike], batch_size: int = 1
) -> SegDataSample | list[SegDataSample]:
    """Predicts the segmentation (or, for an ``ImageClassifier``, the class) of one image or of several.

    The test pipeline of ``model.cfg`` runs without ``LoadAnnotations``; arrays are loaded
    by :class:`~segtools.datasets.transforms.LoadImageFromNDArray`. A batch only ever holds images
    of one size (after the pipeline): padding an image to its neighbours' size changes what
    the network sees, so mmseg's mixed batches make a prediction depend on the other images
    and on ``batch_size``; here it does not. All images of one call are prepared first, so
    pass a long list of files in chunks (as ``tools/infer.py`` does).

    Args:
        model: A model from :func:`init_model`.
        img: A file path, a BGR array ``(H, W, 3)`` (or grayscale ``(H, W)``), or a list or
            tuple of them.
        batch_size: Images per forward pass.

    Returns:
        For one image a :class:`SegDataSample` with ``pred_sem_seg`` ``(1, H, W)`` int64 and
        ``seg_logits`` ``(K, H, W)`` at the image's original size (a classifier gives a
        ``ClsDataSample`` with ``pred_score`` ``(C,)`` and ``pred_label``, see
        :func:`top_classes`); for a list, a list of them in the same order.

    Raises:
        FileNotFoundError: An image path does not exist.
        ImageReadError: An image cannot be read or prepared (the message names it); a
            ``ValueError``.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    is_batch = isinstance(img, list | tuple)
    images = list(img) if is_batch else [img]
    pipelines = build_inference_pipelines(model.cfg)
    prepared = [_prepare(image, i, pipelines) for i, image in enumerate(images)]
    by_size: dict[tuple[int, ...], list[int]] = {}
    for i, item in enumerate(prepared):
        by_size.setdefault(tuple(item['inputs'].shape), []).append(i)
    results: list[SegDataSample | None] = [None] * len(images)
    for indices in by_size.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            with torch.no_grad():
                outputs = model.test_step(pseudo_collate([prepared[i] for i in chunk]))
            for i, output in zip(chunk, outputs, strict=True):
                results[i] = output
    return results if is_batch else results[0]


@functools.cache
def _visualizer() -> SegLocalVisualizer:
    """The visualizer :func:`show_result` reuses (its matplotlib figure is made once)."""
    return SegLocalVisualizer(name=VISUALIZER_NAME)


def _depth_args(model: nn.Module) -> dict:
    """``bit_depth`` / ``value_range`` of the model's test image loader (empty when unset)."""
    cfg = getattr(model, 'cfg', None)
    try:
        loader = get_test_pipeline_cfg(cfg)[0] if cfg is not None else {}
    except KeyError:
        return {}
    return {key: loader[key] for key in DEPTH_ARGS if loader.get(key) is not None}


def _rgb_image(img: ImageLike, depth_args: dict) -> np.ndarray:
    """A path or BGR array as an RGB (or grayscale) uint8 image for drawing.

    Files are read by segtools' ``LoadImageFromFile`` and deep arrays scaled as the model's
    loader scales them (``depth_args``), so a 16-bit image is drawn as the model saw it.
    """
    if isinstance(img, str | os.PathLike):
        path = os.fspath(img)
        if not osp.isfile(path):
            raise FileNotFoundError(f'image {path} does not exist')
        try:
            image = LoadImageFromFile(**depth_args)(dict(img_path=path))['img']
        except SegtoolsError as error:
            raise ImageReadError(f'cannot read image {path}: {error}') from error
        return np.ascontiguousarray(image[..., ::-1])
    image = np.asarray(img)
    if image.dtype != np.uint8:
        image = to_8bit_range(image, f'image array of shape {image.shape}', **depth_args)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.ascontiguousarray(image[..., 2::-1])
    return image


def _write_image(image: np.ndarray, out_file: str | os.PathLike) -> None:
    """Encodes an RGB image by the file's extension and writes it atomically."""
    out_file = os.fspath(out_file)
    extension = osp.splitext(out_file)[1] or '.png'
    ok, encoded = cv2.imencode(extension, np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise ValueError(f'cannot encode an image as {extension!r} for {out_file}')
    atomic_write_bytes(out_file, encoded.tobytes())


def show_result(
    model: nn.Module,
    img: ImageLike,
    result: SegDataSample,
    opacity: float = 0.5,
    title: str = '',
    draw_gt: bool = False,
    show: bool = False,
    wait_time: float = 0,
    out_file: str | os.PathLike | None = None,
    with_labels: bool = True,
) -> np.ndarray:
    """Draws a prediction over its image with the model's class colours (and names).

    Args:
        model: The model that made ``result`` (its ``dataset_meta`` gives names and colours).
        img: The image ``result`` was predicted for: a path or a BGR array.
        result: A sample with ``pred_sem_seg`` (and ``gt_sem_seg`` for ``draw_gt``).
        opacity: Weight of the class colours, in ``[0, 1]``.
        title: Window title and image name.
        draw_gt: Also draw the ground truth, left of the prediction.
        show: Show the drawing in a window.
        wait_time: Seconds the window stays (0: until a key is pressed).
        out_file: Write the drawing here (format from the extension), atomically.
        with_labels: Write class names on the regions and panel titles.

    Returns:
        The RGB uint8 overlay ``(H, W, 3)``; ``(H, 2 * W, 3)`` (ground truth | prediction)
        with ``draw_gt`` and a ground truth in ``result``.
    """
    if 'pred_sem_seg' not in result:
        raise ValueError('show_result needs a result with pred_sem_seg (from inference_model)')
    image = _rgb_image(img, _depth_args(model))
    visualizer = _visualizer()
    visualizer.dataset_meta = model.dataset_meta
    drawn = visualizer.add_datasample(
        title or 'result', image, result, draw_gt=draw_gt, draw_pred=True, with_labels=with_labels, alpha=opacity
    )
    overlay = np.ascontiguousarray(drawn[:, image.shape[1] :])  # drop the bare image panel
    if show:
        visualizer.show(overlay, win_name=title or 'result', wait_time=wait_time)
    if out_file is not None:
        _write_image(overlay, out_file)
    return overlay


def top_classes(model: nn.Module, result, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most likely classes of a classifier's prediction, best first.

    Args:
        model: The classifier that made ``result`` (its ``dataset_meta['classes']`` names them).
        result: A sample with ``pred_score`` ``(C,)`` (what :func:`inference_model` returns for an
            ``ImageClassifier``).
        k: How many; at most ``C``.

    Returns:
        ``[(class name, probability), ...]``, probabilities in ``[0, 1]``.
    """
    if 'pred_score' not in result:
        raise ValueError('top_classes needs a classifier result with pred_score (from inference_model)')
    scores = result.pred_score.detach().cpu().float()
    values, indices = scores.topk(min(k, scores.numel()))
    classes = model.dataset_meta['classes']
    return [(classes[i], float(v)) for v, i in zip(values.tolist(), indices.tolist(), strict=True)]


def save_prediction_png(model: nn.Module, result: SegDataSample, out_file: str | os.PathLike) -> None:
    """Writes ``result.pred_sem_seg`` as an indexed PNG coloured with the model's palette.

    Pixel values are the class ids (``np.array(PIL.Image.open(out_file))`` reads them back);
    the PNG palette gives each id its dataset colour. Written atomically by
    :func:`segtools.visualization.save_palette_png` (Pillow is a dependency of segtools).

    Args:
        model: The model that made ``result`` (its ``dataset_meta['palette']``).
        result: A sample with ``pred_sem_seg`` ``(1, H, W)``.
        out_file: Output ``.png`` path; missing folders are created.
    """
    if 'pred_sem_seg' not in result:
        raise ValueError('save_prediction_png needs a result with pred_sem_seg (from inference_model)')
    save_palette_png(result.pred_sem_seg.data, out_file, palette=model.dataset_meta)
