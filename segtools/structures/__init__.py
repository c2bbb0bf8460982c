"""Data structures passed between the data pipeline, the models and the metrics."""

from .seg_data_sample import SegDataSample

SampleList = list[SegDataSample]

__all__ = ['SegDataSample', 'SampleList']
