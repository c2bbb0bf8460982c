"""Registered runner hooks."""

from .buffer_broadcast_hook import BufferBroadcastHook, broadcast_buffers
from .dropblock_ramp_hook import DropBlockRampHook
from .num_class_check_hook import NumClassCheckHook, check_num_classes
from .plain_checkpoint_state_hook import PlainCheckpointStateHook, message_hub_from_plain, message_hub_to_plain
from .random_state_hook import RandomStateHook, get_random_state, set_random_state
from .seg_visualization_hook import SegVisualizationHook
from .strict_load_hook import CheckpointMismatchError, StrictLoadHook

__all__ = [
    'BufferBroadcastHook',
    'CheckpointMismatchError',
    'DropBlockRampHook',
    'NumClassCheckHook',
    'PlainCheckpointStateHook',
    'RandomStateHook',
    'SegVisualizationHook',
    'StrictLoadHook',
    'broadcast_buffers',
    'check_num_classes',
    'get_random_state',
    'message_hub_from_plain',
    'message_hub_to_plain',
    'set_random_state',
]
