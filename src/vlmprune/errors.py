"""Errors that mean the user's input is wrong; scripts print their message and exit 2."""


class VlmpruneError(ValueError):
    """Bad input: the message names what is wrong and how to fix it."""


class ModelError(VlmpruneError):
    """A model that cannot be used as configured."""


class ConfigError(VlmpruneError):
    """A configuration whose keys contradict each other or name something unknown."""
