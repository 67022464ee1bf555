"""Errors that mean the user's input is wrong: command lines print the message, no traceback."""


class VlmpruneError(ValueError):
    """Bad input: the message names what is wrong and how to fix it."""


class ModelError(VlmpruneError):
    """A model that cannot be used as configured."""


class ConfigError(VlmpruneError):
    """A configuration whose keys contradict each other or name something unknown."""


class DamagedFileError(VlmpruneError):
    """A stored result or prepared data that fails its own checks: delete it and rerun."""


class StoreWriteError(VlmpruneError):
    """A store could not be written (a full disk, most often); a rerun resumes it.

    HDF5 keeps the file it failed to close open inside the process and crashes the interpreter
    at exit; a script that reports this error therefore ends its process at once.
    """

    exit_at_once = True


class CheckpointError(RuntimeError):
    """A checkpoint missing, incomplete or unreadable; the message names the file and the fix."""
