"""The test pipeline of a config, adapted for inference on paths and in-memory arrays.

mmcv 2.2 provides ``LoadImageFromFile`` but no loader for arrays; segtools registers
:class:`~segtools.datasets.transforms.LoadImageFromNDArray`, which replaces the file loader
when the input is an array.
"""

import copy
from collections.abc import Sequence

from mmcv.transforms import Compose
from mmengine.config import Config

from segtools.datasets.transforms import LoadImageFromNDArray
from segtools.registry import TRANSFORMS

# Transforms that read labels; inference has none to read.
ANNOTATION_LOADERS = ('LoadAnnotations',)
FILE_LOADER = 'LoadImageFromFile'


def _type_name(transform: dict) -> str:
    kind = transform.get('type')
    return kind if isinstance(kind, str) else getattr(kind, '__name__', repr(kind))


def get_test_pipeline_cfg(cfg: Config) -> list[dict]:
    """The config's test pipeline: ``test_pipeline``, else ``test_dataloader.dataset.pipeline``.

    Raises:
        KeyError: The config has neither.
    """
    pipeline = cfg.get('test_pipeline', None)
    if pipeline is None:
        dataset = cfg.get('test_dataloader', {}).get('dataset', {})
        pipeline = dataset.get('pipeline', None) if hasattr(dataset, 'get') else None
    if not pipeline:
        raise KeyError(
            f'config {cfg.filename} has no test pipeline: set `test_pipeline` or `test_dataloader.dataset.pipeline` '
            '(a list starting with dict(type="LoadImageFromFile"))'
        )
    return [dict(transform) for transform in copy.deepcopy(pipeline)]


def build_inference_pipelines(cfg: Config) -> tuple[Compose, Compose]:
    """Test pipelines for image paths and for arrays, without annotation loading.

    Args:
        cfg: The model's config.

    Returns:
        ``(from_file, from_array)``: the first starts with the config's ``LoadImageFromFile``,
        the second with :class:`LoadImageFromNDArray` of the same ``color_type``/``to_float32``/
        ``bit_depth``/``value_range``.

    Raises:
        KeyError: No test pipeline in the config.
        ValueError: The pipeline does not start with ``LoadImageFromFile``.
    """
    transforms = [t for t in get_test_pipeline_cfg(cfg) if _type_name(t) not in ANNOTATION_LOADERS]
    if not transforms or _type_name(transforms[0]) != FILE_LOADER:
        names = [_type_name(t) for t in transforms]
        raise ValueError(f'the test pipeline of {cfg.filename} must start with {FILE_LOADER}, got {names}')
    loader = transforms[0]
    from_array = dict(
        type=LoadImageFromNDArray,
        color_type=loader.get('color_type', 'color'),
        to_float32=loader.get('to_float32', False),
        # 16-bit inputs: an array is scaled exactly as the file loader scales the same picture.
        bit_depth=loader.get('bit_depth'),
        value_range=loader.get('value_range'),
    )
    rest = transforms[1:]
    return _compose([loader, *rest]), _compose([from_array, *rest])


def _compose(transforms: Sequence[dict]) -> Compose:
    return Compose([TRANSFORMS.build(transform) for transform in transforms])
