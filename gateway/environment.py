"""Reading values out of the environment, with errors that name the variable."""

from __future__ import annotations

import math
from collections.abc import Mapping


class SettingsError(ValueError):
    """A setting is unusable; the message names it and says what would work."""


def number(env: Mapping[str, str], name: str, default: float, *, low: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value):  # nan passes every comparison; inf breaks int()
        raise SettingsError(f"{name}={raw!r} must be a finite number")
    if value < low:
        raise SettingsError(f"{name}={raw!r} must be at least {low:g}")
    return value
