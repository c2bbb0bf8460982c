"""Backbone -> (neck) -> decode head (+ auxiliary heads): the standard segmentor."""

import inspect
from collections.abc import Iterator, Sequence

import torch
from mmengine.utils import to_2tuple
from torch import nn

from segtools.registry import MODELS
from segtools.structures import SampleList

from ..utils import add_prefix
from ..utils.building import build_part, check_neck_channels, with_pretrained
from .base import BaseSegmentor
from .multi_view import View, infer_views
from .seg_tta import check_tta_cfg, multi_scale_flip_inference

TEST_MODES = ('whole', 'slide')
# Windows per forward when test_cfg.window_batch is 'auto' (the default). GPUs want full batches.
# On the CPU a batch pays only while it stays small: 4 windows of 512x512 through PSPNet-R50-D8
# took 1.5x as long per window as one (the activations outgrow the caches), while the demo's
# 128x128 windows ran 1.6x (8 per forward) to 1.7x (24) faster than one at a time. So the CPU
# batches windows up to this many pixels per forward (one 512x512 window).
GPU_WINDOW_BATCH = 8
CPU_PIXELS_PER_FORWARD = 512 * 512


@MODELS.register_module()
class EncoderDecoder(BaseSegmentor):
    """Encoder-decoder segmentor (MMSegmentation's contract).

    ``loss`` returns the decode head's losses prefixed ``decode.`` and each
    auxiliary head's prefixed ``aux.`` (``aux_{i}.`` for a list). ``predict``
    runs ``test_cfg.mode`` inference, optionally multi-scale + flip
    (``test_cfg.tta``, see :func:`multi_scale_flip_inference`), and returns
    samples with ``seg_logits``/``pred_sem_seg`` at ``ori_shape``.

    The heads' ``in_channels`` are checked against the backbone's (or neck's)
    ``out_channels`` when the model is built, naming the offending config key.

    Args:
        backbone: Backbone config (or module) declaring ``out_channels``.
        decode_head: Decode head config (or module).
        neck: Optional neck config (or module).
        auxiliary_head: Optional auxiliary head config, or a list of them.
        train_cfg: Passed to the heads' ``loss``.
        test_cfg: ``mode`` ``'whole'`` (default) or ``'slide'``; slide takes
            ``crop_size`` (int or ``(h, w)``) and ``stride`` (default 2/3 of the
            crop, PyTorch-Encoding's convention); overlapping windows are fused by
            averaged probabilities (see :mod:`.multi_view`). ``window_batch``: windows
            (or same-size views) per forward; ``'auto'`` (default) is 8 on GPUs and on
            the CPU as many as fit in 512x512 pixels (1 for 512x512 windows).
            ``tta=dict(scales=[...], flip=True, ...)`` turns on multi-scale + flip
            inference.
        data_preprocessor: Preprocessor config (or module); ``SegDataPreProcessor()`` by default.
        pretrained: Checkpoint of the backbone; becomes its
            ``init_cfg=dict(type='Pretrained', checkpoint=...)``.
        init_cfg: mmengine initialisation config.
    """

    def __init__(
        self,
        backbone: dict | nn.Module,
        decode_head: dict | nn.Module,
        neck: dict | nn.Module | None = None,
        auxiliary_head: dict | nn.Module | Sequence[dict | nn.Module] | None = None,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        data_preprocessor: dict | nn.Module | None = None,
        pretrained: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.train_cfg = train_cfg if train_cfg is not None else {}
        self.test_cfg = test_cfg if test_cfg is not None else dict(mode='whole')
        self._check_test_cfg(self.test_cfg)

        self.backbone = build_part(with_pretrained(backbone, pretrained, 'EncoderDecoder'))
        features, source = self.backbone, 'backbone'
        self.neck = None
        if neck is not None:
            self.neck = build_part(self._with_in_strides(neck, self.backbone))
            check_neck_channels(self.neck, self.backbone)
            features, source = self.neck, 'neck'
        available = getattr(features, 'out_channels', None)

        self.decode_head = self._build_head(decode_head, available, source, 'decode_head')
        self.align_corners = self.decode_head.align_corners
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.decode_head.out_channels
        self.threshold = self.decode_head.threshold

        self.auxiliary_head = None
        if isinstance(auxiliary_head, Sequence):
            self.auxiliary_head = nn.ModuleList(
                self._build_head(cfg, available, source, f'auxiliary_head[{i}]') for i, cfg in enumerate(auxiliary_head)
            )
        elif auxiliary_head is not None:
            self.auxiliary_head = self._build_head(auxiliary_head, available, source, 'auxiliary_head')

    # ----------------------------------------------------------------- building
    @staticmethod
    def _with_in_strides(neck: dict | nn.Module, backbone: nn.Module) -> dict | nn.Module:
        """Fills a neck config's ``in_strides`` from the backbone's ``out_strides``.

        Necks that take ``in_strides`` otherwise assume a plain 2x pyramid, which is
        wrong for dilated backbones (output stride 8 or 16).
        """
        strides = getattr(backbone, 'out_strides', None)
        if not isinstance(neck, dict) or 'in_strides' in neck or strides is None:
            return neck
        neck_cls = neck['type'] if isinstance(neck['type'], type) else MODELS.get(neck['type'])
        if neck_cls is None or 'in_strides' not in inspect.signature(neck_cls).parameters:
            return neck
        return {**neck, 'in_strides': tuple(strides)}

    @staticmethod
    def _check_test_cfg(test_cfg: dict) -> None:
        mode = test_cfg.get('mode', 'whole')
        if mode not in TEST_MODES:
            raise ValueError(f'EncoderDecoder: unknown test_cfg.mode {mode!r}; expected one of {TEST_MODES}')
        if mode == 'slide':
            EncoderDecoder._slide_params(test_cfg)
        window_batch = test_cfg.get('window_batch', 'auto')
        if window_batch != 'auto' and not (isinstance(window_batch, int) and window_batch > 0):
            raise ValueError(
                "EncoderDecoder: test_cfg.window_batch must be a positive int or 'auto', "
                f'got window_batch={window_batch!r}'
            )
        if test_cfg.get('tta') is not None:
            check_tta_cfg(test_cfg['tta'])

    @staticmethod
    def _slide_params(test_cfg: dict) -> tuple[tuple[int, int], tuple[int, int]]:
        """``(crop_h, crop_w), (stride_h, stride_w)`` of slide inference, checked."""
        if test_cfg.get('crop_size') is None:
            raise ValueError("EncoderDecoder: test_cfg.mode='slide' needs test_cfg.crop_size")
        crop = tuple(to_2tuple(test_cfg['crop_size']))
        # PyTorch-Encoding's MultiEvalModule slides by 2/3 of the crop.
        stride = tuple(to_2tuple(test_cfg.get('stride', tuple(max(1, c * 2 // 3) for c in crop))))
        if len(crop) != 2 or len(stride) != 2 or not all(isinstance(v, int) and v > 0 for v in (*crop, *stride)):
            raise ValueError(
                'EncoderDecoder: test_cfg.crop_size and test_cfg.stride must be positive ints or (h, w) pairs, '
                f'got crop_size={test_cfg["crop_size"]!r}, stride={test_cfg.get("stride")!r}'
            )
        return crop, stride

    def _window_batch(self, device: torch.device, window: tuple[int, int], images: int = 1) -> int:
        """Windows (of ``images`` images each) per forward: ``test_cfg.window_batch``, or by device and size."""
        window_batch = self.test_cfg.get('window_batch', 'auto')
        if window_batch != 'auto':
            return window_batch
        if device.type != 'cpu':
            return GPU_WINDOW_BATCH
        return max(1, CPU_PIXELS_PER_FORWARD // (images * window[0] * window[1]))

    @staticmethod
    def _build_head(cfg: dict | nn.Module, available: Sequence[int] | None, source: str, key: str) -> nn.Module:
        head = build_part(cfg)
        if available is not None and hasattr(head, 'check_in_channels'):
            head.check_in_channels(tuple(available), source, key)
        return head

    @property
    def with_neck(self) -> bool:
        return self.neck is not None

    @property
    def with_auxiliary_head(self) -> bool:
        return self.auxiliary_head is not None

    # ------------------------------------------------------------------ forward
    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Images ``(N, C, H, W)`` -> backbone (then neck) features."""
        x = self.backbone(inputs)
        return self.neck(x) if self.with_neck else x

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: list[dict]) -> torch.Tensor:
        """Images ``(N, C, H, W)`` -> decode-head logits ``(N, K, H, W)`` at the input size."""
        # The head resizes to pad_shape; make it the size of what it is given
        # (a slide window or a rescaled view), on copies, never the caller's metas.
        size = tuple(inputs.shape[2:])
        metas = [{**meta, 'img_shape': size, 'pad_shape': size} for meta in batch_img_metas]
        return self.decode_head.predict(self.extract_feat(inputs), metas, self.test_cfg)

    def _forward(self, inputs: torch.Tensor, data_samples: SampleList | None = None) -> torch.Tensor:
        """Raw decode-head logits ``(N, K, H', W')`` at the head's resolution."""
        return self.decode_head.forward(self.extract_feat(inputs))

    def loss(self, inputs: torch.Tensor, data_samples: SampleList) -> dict:
        """Losses of the decode head (``decode.*``) and auxiliary heads (``aux.*`` / ``aux_{i}.*``)."""
        x = self.extract_feat(inputs)
        losses = add_prefix(self.decode_head.loss(x, data_samples, self.train_cfg), 'decode')
        if isinstance(self.auxiliary_head, nn.ModuleList):
            for i, head in enumerate(self.auxiliary_head):
                losses.update(add_prefix(head.loss(x, data_samples, self.train_cfg), f'aux_{i}'))
        elif self.with_auxiliary_head:
            losses.update(add_prefix(self.auxiliary_head.loss(x, data_samples, self.train_cfg), 'aux'))
        return losses

    def predict(self, inputs: torch.Tensor, data_samples: SampleList | None = None) -> SampleList:
        """Inference and post-processing; see :meth:`BaseSegmentor.postprocess_result`."""
        metas = self.batch_img_metas(inputs, data_samples)
        return self.postprocess_result(self.inference(inputs, metas), data_samples)

    # ---------------------------------------------------------------- inference
    def inference(self, inputs: torch.Tensor, batch_img_metas: list[dict]) -> torch.Tensor:
        """Logits ``(N, K, H, W)`` at the (padded) input size, by ``test_cfg.mode`` (and ``tta``)."""
        self._check_test_cfg(self.test_cfg)
        tta = self.test_cfg.get('tta')
        if tta is not None:
            return multi_scale_flip_inference(
                self.infer_views, inputs, batch_img_metas, align_corners=self.align_corners, **tta
            )
        return self.single_scale_inference(inputs, batch_img_metas)

    def single_scale_inference(self, inputs: torch.Tensor, batch_img_metas: list[dict]) -> torch.Tensor:
        """Whole or slide inference of ``inputs`` as they are."""
        if self.test_cfg.get('mode', 'whole') == 'slide':
            return self.slide_inference(inputs, batch_img_metas)
        return self.whole_inference(inputs, batch_img_metas)

    def whole_inference(self, inputs: torch.Tensor, batch_img_metas: list[dict]) -> torch.Tensor:
        """One forward of the whole batch; logits ``(N, K, H, W)``."""
        return self.encode_decode(inputs, batch_img_metas)

    def slide_inference(self, inputs: torch.Tensor, batch_img_metas: list[dict]) -> torch.Tensor:
        """Sliding-window inference; logits ``(N, K, H, W)``.

        Images smaller than ``crop_size`` are padded with 0 (the mean colour after
        normalisation) so that every window has the crop size; the windows of all
        images go through the network ``window_batch`` at a time; overlapping windows
        are fused by averaged probabilities (:func:`.multi_view.infer_views`).
        """
        crop, stride = self._slide_params(self.test_cfg)
        window_batch = self._window_batch(inputs.device, crop, inputs.shape[0])
        return next(
            infer_views(
                self.encode_decode, [(inputs, batch_img_metas)], crop=crop, stride=stride, window_batch=window_batch
            )
        )

    def infer_views(self, views: Sequence[View]) -> Iterator[torch.Tensor]:
        """Single-scale inference of several views ``(inputs, metas)`` with their windows batched.

        Yields each view's logits ``(N, K, H, W)`` at its size, in order, equal to
        :meth:`single_scale_inference` of each view alone.
        """
        self._check_test_cfg(self.test_cfg)
        crop = stride = None
        if self.test_cfg.get('mode', 'whole') == 'slide':
            crop, stride = self._slide_params(self.test_cfg)
        window = crop if crop is not None else max((tuple(inputs.shape[2:]) for inputs, _ in views), default=(1, 1))
        window_batch = self._window_batch(views[0][0].device, window, views[0][0].shape[0]) if views else 1
        yield from infer_views(self.encode_decode, views, crop=crop, stride=stride, window_batch=window_batch)

    def predict_views(self, views: Sequence[tuple[torch.Tensor, SampleList]]) -> list[SampleList]:
        """:meth:`predict` of several preprocessed views of a batch, their windows batched together.

        Args:
            views: ``(inputs (N, C, H, W), data_samples)`` per view (``SegTTAModel``'s views).

        Returns:
            Per view, its samples post-processed as :meth:`predict` does.
        """
        metas = [self.batch_img_metas(inputs, samples) for inputs, samples in views]
        logits = self.infer_views([(inputs, view_metas) for (inputs, _), view_metas in zip(views, metas, strict=True)])
        return [
            self.postprocess_result(view_logits, samples)
            for view_logits, (_, samples) in zip(logits, views, strict=True)
        ]
