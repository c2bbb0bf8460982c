"""The segmentation visualizer: image, ground-truth overlay and prediction overlay side by side."""

from collections.abc import Sequence

import cv2
import mmcv
import numpy as np
from mmengine.visualization import Visualizer

from segtools.constants import IGNORE_INDEX
from segtools.palettes import NAMED_PALETTES
from segtools.registry import VISUALIZERS
from segtools.structures import SegDataSample
from segtools.visualization.palette import as_label_map, check_label_ids, get_palette

# Regions smaller than this share of the panel get no class name: their text would hide them.
MIN_LABEL_AREA_RATIO = 0.002
PANEL_TITLES = {'image': 'image', 'gt': 'ground truth', 'pred': 'prediction'}


@VISUALIZERS.register_module()
class SegLocalVisualizer(Visualizer):
    """Draws a :class:`SegDataSample` as ``image | GT overlay | prediction overlay``.

    Each overlay blends the class colours into the image,
    ``(1 - alpha) * image + alpha * colour``; pixels labelled ``ignore_index`` keep the
    image. Colours and names come from ``dataset_meta`` (``classes``, ``palette``), which
    the runner sets from the dataset, or from the constructor arguments. Unlike mmseg,
    there is no silent Cityscapes default: drawing without classes raises.

    Args:
        name: Instance name (mmengine ``ManagerMixin``).
        image: Optional image to start with, ``(H, W, 3)`` RGB uint8.
        vis_backends: Backend configs (e.g. ``[dict(type='LocalVisBackend')]``).
        save_dir: Root folder of the backends (they write under ``<save_dir>/vis_data``).
        classes: Class names, overriding ``dataset_name``'s.
        palette: ``[[r, g, b], ...]`` per class, overriding ``dataset_name``'s.
        dataset_name: A palette name of :func:`~segtools.visualization.palette.get_palette`
            (``'ade'``, ``'cityscapes'``, ``'voc'``, ``'brain_atlas'``).
        ignore_index: Label left uncoloured in the overlays.
        fig_save_cfg: Forwarded to mmengine's ``Visualizer``.
        fig_show_cfg: Forwarded to mmengine's ``Visualizer``.
    """

    def __init__(
        self,
        name: str = 'visualizer',
        image: np.ndarray | None = None,
        vis_backends: list[dict] | None = None,
        save_dir: str | None = None,
        classes: Sequence[str] | None = None,
        palette: Sequence[Sequence[int]] | None = None,
        dataset_name: str | None = None,
        ignore_index: int = IGNORE_INDEX,
        fig_save_cfg: dict | None = None,
        fig_show_cfg: dict | None = None,
    ) -> None:
        super().__init__(
            name=name,
            image=image,
            vis_backends=vis_backends,
            save_dir=save_dir,
            fig_save_cfg=fig_save_cfg or dict(frameon=False),
            fig_show_cfg=fig_show_cfg or dict(frameon=False),
        )
        self.ignore_index = ignore_index
        self.set_dataset_meta(classes=classes, palette=palette, dataset_name=dataset_name)

    def set_dataset_meta(
        self,
        classes: Sequence[str] | None = None,
        palette: Sequence[Sequence[int]] | None = None,
        dataset_name: str | None = None,
    ) -> None:
        """Set ``dataset_meta`` from a dataset name and/or explicit classes and palette.

        Args:
            classes: Class names.
            palette: Colours per class; generated (seed 42) when only classes are given.
            dataset_name: A named palette whose classes and palette are the defaults.
        """
        meta: dict = {}
        if dataset_name is not None:
            if dataset_name.lower() not in NAMED_PALETTES:
                raise KeyError(f'unknown dataset_name {dataset_name!r}; expected one of {sorted(NAMED_PALETTES)}')
            meta = dict(NAMED_PALETTES[dataset_name.lower()])
        if classes is not None:
            meta['classes'] = tuple(classes)
            if len(meta.get('palette', ())) != len(classes):
                meta.pop('palette', None)  # a named palette of another length would mis-colour
        if palette is not None:
            meta['palette'] = [list(c) for c in palette]
        if meta:
            self.dataset_meta = meta

    def _classes_and_colors(self) -> tuple[Sequence[str], np.ndarray]:
        meta = self.dataset_meta
        if not meta or not meta.get('classes'):
            raise ValueError(
                f'{type(self).__name__} needs class names and colours: set `visualizer.dataset_meta = '
                'dataset.metainfo` (the runner does) or pass classes/palette/dataset_name'
            )
        classes = meta['classes']
        colors = get_palette(meta)
        if len(colors) < len(classes):
            raise ValueError(f'dataset_meta has {len(classes)} classes but only {len(colors)} palette colours')
        return classes, colors

    def _overlay(self, image: np.ndarray, label: np.ndarray, colors: np.ndarray, alpha: float) -> np.ndarray:
        valid = check_label_ids(label, len(colors), self.ignore_index)
        out = image.copy()
        blended = (1 - alpha) * image[valid].astype(np.float32) + alpha * colors[label[valid]].astype(np.float32)
        out[valid] = np.clip(np.round(blended), 0, 255).astype(np.uint8)
        return out

    @staticmethod
    def _put_text(panel: np.ndarray, text: str, center: tuple[int, int], scale: float) -> None:
        """Centred text, white with a black outline so it reads on any colour."""
        font, thickness = cv2.FONT_HERSHEY_SIMPLEX, 1
        (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
        height, width = panel.shape[:2]
        x = int(np.clip(center[0] - tw // 2, 0, max(width - tw, 0)))
        y = int(np.clip(center[1] + th // 2, th, height - 1))
        cv2.putText(panel, text, (x, y), font, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        cv2.putText(panel, text, (x, y), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)

    def _draw_class_names(self, panel: np.ndarray, label: np.ndarray, classes: Sequence[str], scale: float) -> None:
        """Write each class's name at the innermost point of its largest region.

        The innermost point (maximum of the distance transform) lies inside the region
        even when it is ring- or C-shaped, where the centroid would not; ties go to the
        point nearest the centroid.
        """
        min_area = MIN_LABEL_AREA_RATIO * label.size
        for class_id in np.unique(label):
            if class_id == self.ignore_index:
                continue
            mask = (label == class_id).astype(np.uint8)
            count, components, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
            if count < 2:
                continue
            largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            if stats[largest, cv2.CC_STAT_AREA] < min_area:
                continue
            region = np.pad((components == largest).astype(np.uint8), 1)  # pad: image borders count as edges
            distance = cv2.distanceTransform(region, cv2.DIST_L2, 3)[1:-1, 1:-1]
            # Elongated regions have a ridge of innermost points: take the one nearest the centroid.
            ys, xs = np.nonzero(distance == distance.max())
            cy, cx = centroids[largest][::-1]
            nearest = int(np.argmin((ys - cy) ** 2 + (xs - cx) ** 2))
            self._put_text(panel, str(classes[class_id]), (int(xs[nearest]), int(ys[nearest])), scale)

    def add_datasample(
        self,
        name: str,
        image: np.ndarray,
        data_sample: SegDataSample | None = None,
        draw_gt: bool = True,
        draw_pred: bool = True,
        show: bool = False,
        wait_time: float = 0,
        out_file: str | None = None,
        step: int = 0,
        with_labels: bool = True,
        alpha: float = 0.5,
    ) -> np.ndarray:
        """Draw ``image | GT overlay | prediction overlay`` and show, save or log it.

        A panel is drawn when asked for and present in ``data_sample`` (``gt_sem_seg``,
        ``pred_sem_seg``); the image panel is always first.

        Args:
            name: Image identifier (window title; backend file name ``<name>_<step>.png``).
            image: ``(H, W, 3)`` RGB uint8 image (``(H, W)`` grayscale is replicated).
            data_sample: Sample with ``gt_sem_seg`` / ``pred_sem_seg`` of shape ``(1, H, W)``.
            draw_gt: Draw the ground-truth panel.
            draw_pred: Draw the prediction panel.
            show: Show the result in a window.
            wait_time: Seconds the window stays (0: until a key).
            out_file: Write the result here (BGR PNG) instead of sending it to the backends.
            step: Global step for the backends.
            with_labels: Write class names on the overlays and a title on each panel.
            alpha: Weight of the class colour in the overlays, in ``[0, 1]``.

        Returns:
            ``(H, W * num_panels, 3)`` RGB uint8 drawing.
        """
        if not 0 <= alpha <= 1:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        image = np.asarray(image)
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[..., 0]
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f'image must be (H, W, 3) uint8 RGB, got shape {image.shape} and dtype {image.dtype}')

        panels = [image.copy()]
        titles = [PANEL_TITLES['image']]
        fields = [('gt', 'gt_sem_seg', draw_gt), ('pred', 'pred_sem_seg', draw_pred)]
        wanted = [(key, field) for key, field, on in fields if on and data_sample is not None and field in data_sample]
        if wanted:
            classes, colors = self._classes_and_colors()
        text_scale = max(0.3, min(image.shape[:2]) / 700)
        for key, field in wanted:
            label = as_label_map(getattr(data_sample, field).data)
            if label.shape != image.shape[:2]:
                where = data_sample.metainfo.get('img_path', name)
                raise ValueError(
                    f'{field} of {where!r} has shape {label.shape} but the image is {image.shape[:2]}: draw the '
                    'image the labels were made for (the original image for predictions)'
                )
            panel = self._overlay(image, label, colors, alpha)
            if with_labels:
                self._draw_class_names(panel, label, classes, text_scale)
            panels.append(panel)
            titles.append(PANEL_TITLES[key])
        if with_labels and len(panels) > 1:
            for panel, title in zip(panels, titles, strict=True):
                self._put_text(panel, title, (0, 0), text_scale)
        drawn = np.concatenate(panels, axis=1)

        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(np.ascontiguousarray(drawn[..., ::-1]), out_file)
        else:
            self.add_image(name, drawn, step)
        return drawn
