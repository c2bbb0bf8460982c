"""segtools: a registry-based semantic-segmentation toolbox."""

__version__ = '0.1.0'
