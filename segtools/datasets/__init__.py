"""Datasets; importing this package registers them (and the transforms)."""

from . import samplers, transforms  # noqa: F401  (registration)
from .ade import ADE20KDataset
from .base_seg_dataset import BaseSegDataset
from .brain_atlas import BrainAtlasDataset
from .brain_atlas_patches import BrainAtlasPatchDataset
from .cityscapes import CityscapesDataset
from .coco21 import COCO21Dataset
from .coco_stuff import COCOStuffDataset
from .dark_zurich import DarkZurichDataset
from .image_folder import ImageFolderDataset
from .imagenet import ImageNetDataset
from .isaid import iSAIDDataset
from .isprs import ISPRSDataset
from .loveda import LoveDADataset
from .minc import MINCDataset
from .night_driving import NightDrivingDataset
from .pascal_context import PascalContextDataset
from .pascal_context59 import PascalContextDataset59
from .potsdam import PotsdamDataset
from .validation import DatasetError, DatasetNotFoundError, check_label_values, map_labels
from .voc import PascalVOCDataset

__all__ = [
    'ADE20KDataset',
    'BaseSegDataset',
    'BrainAtlasDataset',
    'BrainAtlasPatchDataset',
    'CityscapesDataset',
    'COCO21Dataset',
    'COCOStuffDataset',
    'DarkZurichDataset',
    'DatasetError',
    'DatasetNotFoundError',
    'ISPRSDataset',
    'ImageFolderDataset',
    'ImageNetDataset',
    'LoveDADataset',
    'MINCDataset',
    'NightDrivingDataset',
    'PascalContextDataset',
    'PascalContextDataset59',
    'PascalVOCDataset',
    'PotsdamDataset',
    'check_label_values',
    'iSAIDDataset',
    'map_labels',
]
