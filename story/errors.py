"""Errors the services raise for problems a user can act on; their message is shown as is."""


class StudioError(Exception):
    """Base class: a user-facing problem, printed as one line by the CLI and shown in the UI."""


class NotFound(StudioError):
    """The named project, character, panel or render does not exist."""


class InvalidInput(StudioError):
    """Bad input (empty prompt, unreadable image, malformed script…); nothing was written."""


class Conflict(StudioError):
    """A stale edit (changed elsewhere since it was loaded) or a name already taken."""


class StorageError(StudioError):
    """The data directory cannot be used as asked: read-only, full disk, not a folder."""
