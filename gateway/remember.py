"""A one-entry cache by identity, for values that many callers in a row make from the very
same object: a send batch's moment (every message of the transaction), a fan-out's text
(every socket of a message)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar, cast

ArgumentT = TypeVar("ArgumentT")
ResultT = TypeVar("ResultT")


def remember_last(make: Callable[[ArgumentT], ResultT]) -> Callable[[ArgumentT], ResultT]:
    """``make``, keeping its last argument and result. By identity, not equality: the check
    is one comparison, and the argument, kept alive here, cannot give its id to another
    object. Safe across threads: the pair is replaced in one assignment."""
    last: tuple[object, object] = (object(), None)

    @functools.wraps(make)
    def remembering(argument: ArgumentT) -> ResultT:
        nonlocal last
        seen = last
        if seen[0] is argument:
            return cast(ResultT, seen[1])
        made = make(argument)
        last = (argument, made)
        return made

    return remembering
