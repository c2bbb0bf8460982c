"""Constants shared across layers; importing this module costs nothing.

``IGNORE_INDEX``: the label of pixels that no loss, metric or accuracy counts (MMSegmentation's
and PyTorch-Encoding's 255): unlabelled pixels, the padding of label maps, labels mapped away by
``reduce_zero_label``. Every ``ignore_index`` / ``seg_pad_val`` default names it.
"""

IGNORE_INDEX = 255

__all__ = ['IGNORE_INDEX']
