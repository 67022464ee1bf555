"""Errors that mean the user's input is wrong: command lines print the message, no traceback."""


class VlmpruneError(ValueError):
    """Bad input: the message names what is wrong and how to fix it."""


class ModelError(VlmpruneError):
    """A model that cannot be used as configured."""


class ConfigError(VlmpruneError):
    """A configuration whose keys contradict each other or name something unknown."""


class CheckpointError(RuntimeError):
    """A checkpoint missing, incomplete or unreadable; the message names the file and the fix."""
