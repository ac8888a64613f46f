"""Range checks for config dataclasses (`__post_init__`): a nonsense value is one line naming the key."""

from __future__ import annotations


def at_least(config: object, low: float, *names: str) -> None:
    """Each named field is None or >= low."""
    for name in names:
        value = getattr(config, name)
        if value is not None and value < low:
            raise ValueError(f"{name}={value}: must be at least {low}")


def positive(config: object, *names: str) -> None:
    """Each named field is None or > 0."""
    for name in names:
        value = getattr(config, name)
        if value is not None and value <= 0:
            raise ValueError(f"{name}={value}: must be greater than 0")


def fraction(config: object, *names: str) -> None:
    """Each named field is within [0, 1]."""
    for name in names:
        value = getattr(config, name)
        if not 0 <= value <= 1:
            raise ValueError(f"{name}={value}: must be between 0 and 1")
