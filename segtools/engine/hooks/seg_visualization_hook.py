"""Draw prediction/ground-truth overlays during validation and testing."""

import os.path as osp
from collections.abc import Sequence

import mmcv
from mmengine import fileio
from mmengine.hooks import Hook
from mmengine.runner import Runner

from segtools.registry import HOOKS
from segtools.structures import SegDataSample


@HOOKS.register_module()
class SegVisualizationHook(Hook):
    """Draw ``image | GT | prediction`` overlays of every ``interval``-th val/test iteration.

    mmseg's semantics: nothing happens in training or while ``draw`` is False; after the
    val or test iterations whose ``batch_idx % interval == 0`` (so the first batch is always
    drawn) every sample of the batch is drawn with ``runner.visualizer.add_datasample``.
    The image is re-read from the sample's ``img_path``, at the original size the
    predictions are resized to.

    Where the drawings go:

    - validation: the visualizer's backends, as ``val_<image file name>`` at step
      ``runner.iter`` (``LocalVisBackend`` writes ``<log_dir>/vis_data/vis_image/``), so
      each validation round keeps its own drawings;
    - test: ``<out_dir or work_dir/vis_data>/<image stem>.png``, one file per test image.

    Args:
        draw: Whether to draw at all (``tools/test.py --show/--show-dir`` turn it on).
        interval: Draw the iterations whose ``batch_idx`` is a multiple of this.
        show: Also show each drawing in a window.
        wait_time: Seconds a shown window stays open (0: until a key).
        backend_args: mmengine file-backend arguments for reading the images.
        out_dir: Folder of the test-mode drawings; ``None`` for ``<work_dir>/vis_data``
            (``tools/test.py --show-dir`` sets it).
    """

    priority = 'NORMAL'

    def __init__(
        self,
        draw: bool = False,
        interval: int = 50,
        show: bool = False,
        wait_time: float = 0.0,
        backend_args: dict | None = None,
        out_dir: str | None = None,
    ) -> None:
        if interval < 1:
            raise ValueError(f'interval must be a positive integer, got {interval}')
        self.draw = draw
        self.interval = interval
        self.show = show
        self.wait_time = wait_time
        self.backend_args = None if backend_args is None else dict(backend_args)
        self.out_dir = out_dir

    def _after_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: dict | Sequence | None = None,
        outputs: Sequence[SegDataSample] | None = None,
        mode: str = 'train',
    ) -> None:
        if not self.draw or mode == 'train' or not outputs or batch_idx % self.interval != 0:
            return
        for output in outputs:
            img_path = output.metainfo.get('img_path')
            if img_path is None:
                raise KeyError(f'{type(self).__name__} needs "img_path" in the data sample metainfo to read the image')
            image = mmcv.imfrombytes(fileio.get(img_path, backend_args=self.backend_args), channel_order='rgb')
            file_name = osp.basename(img_path)
            out_file = None
            if mode == 'test':
                out_dir = self.out_dir or osp.join(runner.work_dir, 'vis_data')
                out_file = osp.join(out_dir, osp.splitext(file_name)[0] + '.png')
            runner.visualizer.add_datasample(
                f'{mode}_{file_name}',
                image,
                data_sample=output,
                show=self.show,
                wait_time=self.wait_time,
                out_file=out_file,
                step=runner.iter,
            )
