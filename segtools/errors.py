"""The base class of errors caused by what a user gave segtools: a config, data, a checkpoint, a flag.

Such an error carries a message that names the file, key or value at fault and what was
expected; a traceback adds nothing to it. The command-line tools print the message alone and
exit with status 2 (``--debug`` or ``SEGTOOLS_DEBUG=1`` shows the traceback too); every
other exception is a bug and keeps its traceback.

This module imports nothing, so every layer of segtools can raise these errors.
"""


class SegtoolsError(Exception):
    """Bad input named by its message (config, dataset file, checkpoint, command-line value)."""


class ConfigError(SegtoolsError, ValueError):
    """A config file or ``--cfg-options`` override has a key or value segtools cannot use."""


class CheckpointError(SegtoolsError):
    """A checkpoint cannot be used: unreadable, unsafe, or not matching the model."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """A checkpoint named on the command line or in a config does not exist."""


__all__ = ['CheckpointError', 'CheckpointNotFoundError', 'ConfigError', 'SegtoolsError']
