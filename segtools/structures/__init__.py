"""Data structures passed between the data pipeline, the models and the metrics."""

from .cls_data_sample import ClsDataSample, format_label, format_score
from .seg_data_sample import SegDataSample

SampleList = list[SegDataSample]
ClsSampleList = list[ClsDataSample]

__all__ = ['ClsDataSample', 'ClsSampleList', 'SegDataSample', 'SampleList', 'format_label', 'format_score']
