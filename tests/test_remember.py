"""``remember_last``: made once for the same object in a row, made again for any other."""

from __future__ import annotations

from gateway.remember import remember_last


def test_the_same_object_in_a_row_is_made_once_and_any_other_again() -> None:
    made: list[list[int]] = []

    @remember_last
    def total(numbers: list[int]) -> int:
        made.append(numbers)
        return sum(numbers)

    first, equal, other = [1, 2], [1, 2], [3]
    assert [total(first), total(first), total(equal), total(other), total(first)] == [3, 3, 3, 3, 3]
    # By identity: an equal list is another object, and a list may change between calls.
    assert [id(numbers) for numbers in made] == [id(first), id(equal), id(other), id(first)]
