"""The project's exception types for mistakes a user can fix.

Every tool prints a `UserError` as one line, `error: <message>`, and exits with status 2
(`utils.cli.run_tool`); any other exception is a bug and keeps its traceback. The message names
the file, key or value and what was expected.
"""

__all__ = ["CheckpointError", "ConfigError", "DataError", "OtherProcessFailed", "UserError"]


class UserError(Exception):
    """A mistake in the user's input: settings, data, checkpoints or paths."""


class ConfigError(UserError, ValueError):
    """A configuration file, command-line option or setting that does not fit."""


class DataError(UserError, ValueError):
    """A list file, image, label or class table that does not fit the dataset."""


class CheckpointError(UserError, RuntimeError):
    """A weights or checkpoint file that cannot be read or does not fit the model or run."""


class OtherProcessFailed(UserError):
    """Raised in the processes of a multi-process job that stop because another process of the
    job failed with a `UserError`; that process prints the message, these exit quietly."""
