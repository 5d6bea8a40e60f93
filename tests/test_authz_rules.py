"""gateway.authz as a matrix: every kind of viewer against every decision, no I/O.

Each cell states its exact outcome: the Access or Role returned, or the ApiError raised
with its exact status and code. Outsiders of a conversation get 404 ``not_found`` (ids
cannot be probed); participants who may not act get 403 ``forbidden``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

from gateway import authz
from gateway.authz import Access, Role, Viewer
from gateway.errors import ApiError

BRAND = "b_acme"
OTHER_BRAND = "b_rival"
CONSUMER = "a_lea"

VIEWERS: dict[str, Viewer] = {
    "consumer": Viewer(CONSUMER, "s_lea"),
    "owner": Viewer("a_owner", "s_owner", {BRAND: Role.OWNER}),
    "admin": Viewer("a_admin", "s_admin", {BRAND: Role.ADMIN}),
    "agent": Viewer("a_agent", "s_agent", {BRAND: Role.AGENT}),
    "other_brand_owner": Viewer("a_rival", "s_rival", {OTHER_BRAND: Role.OWNER}),
    "other_brand_agent": Viewer("a_rival_agent", "s_rival_agent", {OTHER_BRAND: Role.AGENT}),
    "unrelated": Viewer("a_stranger", "s_stranger"),
    # The conversation's consumer who also works for another brand is still only its consumer.
    "consumer_elsewhere_agent": Viewer(CONSUMER, "s_lea_2", {OTHER_BRAND: Role.AGENT}),
}

# An outcome: a returned value, or (status, code) of the ApiError raised.
Outcome = Access | Role | None | tuple[int, str]
NOT_FOUND = (404, "not_found")
FORBIDDEN = (403, "forbidden")
INVALID = (422, "invalid_input")

ACTIONS: dict[str, Callable[[Viewer], object]] = {
    "conversation_access": lambda v: authz.conversation_access(
        v, brand_id=BRAND, consumer_id=CONSUMER
    ),
    "require_participant": lambda v: authz.require_participant(
        v, brand_id=BRAND, consumer_id=CONSUMER
    ),
    "require_member": lambda v: authz.require_member(v, brand_id=BRAND, consumer_id=CONSUMER),
    "require_brand_admin": lambda v: authz.require_brand_admin(v, brand_id=BRAND),
    # Rating a case (PROTOCOL 6): its consumer only.
    "require_consumer": lambda v: authz.require_consumer(v, brand_id=BRAND, consumer_id=CONSUMER),
    # Brand statistics and canned replies: any member reads them.
    "require_brand_member": lambda v: authz.require_brand_member(v, brand_id=BRAND),
}

# viewer -> outcome per action, in the order of ACTIONS.
EXPECTED: dict[str, tuple[Outcome, Outcome, Outcome, Outcome, Outcome, Outcome]] = {
    #            access, participant, member, brand admin, consumer, brand member
    "consumer": (Access.CONSUMER, Access.CONSUMER, FORBIDDEN, FORBIDDEN, None, FORBIDDEN),
    "owner": (Access.MEMBER, Access.MEMBER, Role.OWNER, Role.OWNER, FORBIDDEN, Role.OWNER),
    "admin": (Access.MEMBER, Access.MEMBER, Role.ADMIN, Role.ADMIN, FORBIDDEN, Role.ADMIN),
    "agent": (Access.MEMBER, Access.MEMBER, Role.AGENT, FORBIDDEN, FORBIDDEN, Role.AGENT),
    "other_brand_owner": (Access.NONE, NOT_FOUND, NOT_FOUND, FORBIDDEN, NOT_FOUND, FORBIDDEN),
    "other_brand_agent": (Access.NONE, NOT_FOUND, NOT_FOUND, FORBIDDEN, NOT_FOUND, FORBIDDEN),
    "unrelated": (Access.NONE, NOT_FOUND, NOT_FOUND, FORBIDDEN, NOT_FOUND, FORBIDDEN),
    "consumer_elsewhere_agent": (
        Access.CONSUMER,
        Access.CONSUMER,
        FORBIDDEN,
        FORBIDDEN,
        None,
        FORBIDDEN,
    ),  # fmt: skip
}


def outcome_of(action: Callable[[], object]) -> Outcome:
    try:
        result = action()
    except ApiError as error:
        assert error.message, "every refusal explains itself"
        return (error.status, error.code)
    assert result is None or isinstance(result, Access | Role), result
    return result


def test_the_matrix_covers_every_viewer_and_action() -> None:
    assert set(EXPECTED) == set(VIEWERS)
    assert all(len(row) == len(ACTIONS) for row in EXPECTED.values())


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("viewer", list(VIEWERS))
def test_conversation_and_brand_decisions(viewer: str, action: str) -> None:
    expected = EXPECTED[viewer][list(ACTIONS).index(action)]
    assert outcome_of(lambda: ACTIONS[action](VIEWERS[viewer])) == expected


@pytest.mark.parametrize("viewer", list(VIEWERS))
def test_outsiders_are_told_not_found_never_forbidden(viewer: str) -> None:
    """Whoever has no access to a conversation cannot tell it from one that does not exist."""
    subject = VIEWERS[viewer]
    access = authz.conversation_access(subject, brand_id=BRAND, consumer_id=CONSUMER)
    for action in ("require_participant", "require_member", "require_consumer"):
        result = outcome_of(partial(ACTIONS[action], subject))
        if access is Access.NONE:
            assert result == NOT_FOUND
        else:
            assert result != NOT_FOUND


def test_a_member_of_another_brand_is_a_member_there() -> None:
    """The rival's refusals above come from the brand id, not from a broken viewer."""
    rival = VIEWERS["other_brand_owner"]
    assert authz.require_brand_admin(rival, brand_id=OTHER_BRAND) is Role.OWNER
    assert authz.conversation_access(rival, brand_id=OTHER_BRAND, consumer_id=CONSUMER) is (
        Access.MEMBER
    )
    assert authz.require_member(rival, brand_id=OTHER_BRAND, consumer_id=CONSUMER) is Role.OWNER


def test_the_consumer_is_seen_as_consumer_even_in_their_own_brands_thread() -> None:
    """A member writing to their own brand is its consumer there, yet may still act as member."""
    both = Viewer(CONSUMER, "s_both", {BRAND: Role.AGENT})
    assert authz.conversation_access(both, brand_id=BRAND, consumer_id=CONSUMER) is Access.CONSUMER
    assert authz.require_member(both, brand_id=BRAND, consumer_id=CONSUMER) is Role.AGENT


# --- check_member_change --------------------------------------------------------------
# actor -> target's current role (None: not a member yet) -> outcome per new role, in the
# order OWNER, ADMIN, AGENT, None (removal). Nobody is made owner through the members
# endpoint; only owners touch owners; agents manage nobody.

NEW_ROLES: tuple[Role | None, ...] = (Role.OWNER, Role.ADMIN, Role.AGENT, None)
OK = None

MEMBER_CHANGES: dict[Role, dict[Role | None, tuple[Outcome, Outcome, Outcome, Outcome]]] = {
    Role.OWNER: {
        Role.OWNER: (INVALID, OK, OK, OK),
        Role.ADMIN: (INVALID, OK, OK, OK),
        Role.AGENT: (INVALID, OK, OK, OK),
        None: (INVALID, OK, OK, OK),
    },
    Role.ADMIN: {
        Role.OWNER: (INVALID, FORBIDDEN, FORBIDDEN, FORBIDDEN),
        Role.ADMIN: (INVALID, OK, OK, OK),
        Role.AGENT: (INVALID, OK, OK, OK),
        None: (INVALID, OK, OK, OK),
    },
    Role.AGENT: {
        Role.OWNER: (FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
        Role.ADMIN: (FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
        Role.AGENT: (FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
        None: (FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    },
}


def _role_id(role: Role | None) -> str:
    return "none" if role is None else role.value


@pytest.mark.parametrize("new_role", NEW_ROLES, ids=_role_id)
@pytest.mark.parametrize("target", [Role.OWNER, Role.ADMIN, Role.AGENT, None], ids=_role_id)
@pytest.mark.parametrize("actor", list(Role), ids=_role_id)
def test_member_changes(actor: Role, target: Role | None, new_role: Role | None) -> None:
    expected = MEMBER_CHANGES[actor][target][NEW_ROLES.index(new_role)]
    result = outcome_of(
        lambda: authz.check_member_change(actor, target_role=target, new_role=new_role)
    )
    assert result == expected
