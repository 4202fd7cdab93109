"""Domain refusals: each message tells a person what to do about it."""


class DomainError(Exception):
    """A command the domain refuses; the message is shown to the user as is."""


class NotFound(DomainError):
    """The thing named does not exist (or is not visible to the caller)."""


class InvalidTransition(DomainError):
    """The command does not fit the current state (e.g. acknowledging a resolved alert)."""


class Forbidden(DomainError):
    """The caller's role may not do this; the message names the role and what it cannot do."""
