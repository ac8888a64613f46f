"""The one error the task vocabulary raises, apart so the suite and the registry can both raise it."""


class UnknownTaskError(ValueError):
    """A task, skill, object, colour or phrasing the suite does not know; the message lists valid ones."""
