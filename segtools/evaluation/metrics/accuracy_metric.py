"""Top-k classification accuracy for the recognition models (ImageNet, MINC-2500)."""

from collections.abc import Sequence
from typing import Any

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from segtools.evaluation.functional import format_table, topk_correct
from segtools.registry import METRICS


@METRICS.register_module()
class TopKAccuracyMetric(BaseMetric):
    """Percentage of samples whose label is among the ``k`` highest scores (top-1, top-5).

    Each data sample carries ``pred_score`` (``(C,)`` logits or probabilities) and
    ``gt_label`` (an int or a tensor holding one class index), the mmpretrain convention.
    One hit vector and label per sample is stored, so mmengine's ``collect_results`` can drop
    the samples a distributed sampler repeated and 1 or N processes agree exactly.

    Besides ``top<k>``, ``mean_class_acc`` is the top-1 accuracy averaged over the classes
    that have samples (what an imbalanced set such as MINC or a patch task should also be
    judged by). With at most ``per_class_table`` classes, the log gets a table of each class's
    sample count and top-1 accuracy (names from the dataset's ``classes``).

    Args:
        topk: The ``k`` values; each needs at least ``k`` classes.
        per_class_table: Log the per-class table when the scores have at most this many
            classes (0: never).
        collect_device: ``'cpu'`` or ``'gpu'``, where ranks gather their results.
        collect_dir: Shared folder for ``'cpu'`` collection.
        prefix: Prefix of the metric names; none by default, so the keys are ``top1``,
            ``top5``, ``mean_class_acc``.
    """

    # '' rather than None: bare keys, without BaseMetric's "prefix not set" warning.
    default_prefix = ''

    def __init__(
        self,
        topk: int | Sequence[int] = (1, 5),
        per_class_table: int = 50,
        collect_device: str = 'cpu',
        collect_dir: str | None = None,
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if not topk or any(not isinstance(k, int) or k < 1 for k in topk):
            raise ValueError(f'TopKAccuracyMetric: topk must be positive ints, got {topk!r}')
        self.topk = topk
        self.per_class_table = per_class_table

    def process(self, data_batch: Any, data_samples: Sequence[dict | BaseDataElement]) -> None:
        """Record, for each sample, whether its label is within each top-k.

        Args:
            data_batch: The dataloader batch (unused).
            data_samples: Dicts or data elements with ``pred_score`` ``(C,)`` and ``gt_label``.

        Raises:
            KeyError: If ``pred_score`` or ``gt_label`` is missing.
            ValueError: If the label is outside ``[0, C)`` or some ``k`` exceeds ``C``; the
                message names the sample's ``img_path`` when it has one.
        """
        for i, sample in enumerate(data_samples):
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            where = f'img_path={sample["img_path"]!r}' if sample.get('img_path') else f'sample {i} of the batch'
            missing = [key for key in ('pred_score', 'gt_label') if key not in sample]
            if missing:
                raise KeyError(f'TopKAccuracyMetric, {where}: missing {missing}; got keys {sorted(sample)}')
            scores = torch.as_tensor(sample['pred_score'])
            label = torch.as_tensor(sample['gt_label']).reshape(-1)
            if scores.dim() != 1 or label.numel() != 1:
                raise ValueError(
                    f'TopKAccuracyMetric, {where}: expected pred_score of shape (C,) and one gt_label, got '
                    f'{tuple(scores.shape)} and {label.numel()} labels'
                )
            try:
                hits = topk_correct(scores.unsqueeze(0), label, self.topk)
            except ValueError as err:
                raise ValueError(f'TopKAccuracyMetric, {where}: {err}') from err
            self.results.append((hits[0].cpu(), int(label.item()), scores.numel()))

    def compute_metrics(self, results: list[tuple[torch.Tensor, int, int]]) -> dict[str, float]:
        """Average the hit vectors, overall and per class.

        Args:
            results: ``(hits (len(topk),) bool, label, number of classes)`` per sample, gathered
                from all ranks.

        Returns:
            ``{'top<k>': percent}`` for every ``k`` and ``'mean_class_acc'`` (percent).
        """
        if not results:
            return {**{f'top{k}': float('nan') for k in self.topk}, 'mean_class_acc': float('nan')}
        hits = torch.stack([hit for hit, _, _ in results]).double()
        labels = torch.tensor([label for _, label, _ in results])
        num_classes = max(count for _, _, count in results)
        metrics = {f'top{k}': (hits[:, j].mean() * 100.0).item() for j, k in enumerate(self.topk)}
        counts = torch.bincount(labels, minlength=num_classes)
        correct = torch.bincount(labels, weights=hits[:, 0], minlength=num_classes)
        present = counts > 0
        per_class = torch.where(present, correct / counts.clamp(min=1) * 100.0, torch.nan)
        metrics['mean_class_acc'] = per_class[present].mean().item()
        if num_classes <= self.per_class_table:
            names = list((self.dataset_meta or {}).get('classes') or [])
            names += [f'class_{c}' for c in range(len(names), num_classes)]
            rows = [
                [names[c], str(int(counts[c])), 'nan' if not present[c] else f'{per_class[c].item():.2f}']
                for c in range(num_classes)
            ]
            print_log('per class results:\n' + format_table(['Class', 'Samples', 'Top-1'], rows), logger='current')
        return metrics
