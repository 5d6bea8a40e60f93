"""``atdesk serve --demo``: two brands, their staff and a consumer, with known passwords.

Seeding goes through the same handlers as the HTTP API, so demo data obeys every rule
real data does. It is idempotent: what exists already is left as it is.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass

from gateway.authz import Viewer
from gateway.bus import LocalBus
from gateway.database import Database
from gateway.errors import ApiError
from gateway.handlers.accounts import AccountHandler
from gateway.handlers.brands import BrandHandler
from gateway.limits import LocalLoginLimiter
from gateway.schemas import AccountCreate, BrandCreate, MemberAdd, SessionCreate
from gateway.secrets import Passwords
from gateway.settings import Settings

log = logging.getLogger(__name__)

DEMO_PASSWORD = "atdesk-demo"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    display_name: str
    title: str


@dataclass(frozen=True)
class DemoBrand:
    handle: str
    name: str
    description: str
    owner: DemoAccount
    agent: DemoAccount


DEMO_CONSUMER = DemoAccount("lea@example.com", "Lea", "a consumer")
DEMO_BRANDS = (
    DemoBrand(
        "acme", "ACME Telecom", "Phone, internet and TV.",
        owner=DemoAccount("owner@acme.example", "Ada", "@acme owner"),
        agent=DemoAccount("agent@acme.example", "Sam", "@acme agent"),
    ),
    DemoBrand(
        "globex", "Globex Bank", "Accounts, cards and loans.",
        owner=DemoAccount("owner@globex.example", "Grace", "@globex owner"),
        agent=DemoAccount("agent@globex.example", "Hank", "@globex agent"),
    ),
)  # fmt: skip


def demo_accounts() -> list[DemoAccount]:
    accounts = [DEMO_CONSUMER]
    for brand in DEMO_BRANDS:
        accounts += [brand.owner, brand.agent]
    return accounts


async def seed(settings: Settings) -> None:
    """Create whatever of the demo data is missing.

    The handlers get a bus of their own: nothing listens yet (the gateway has not
    started), and a one-off seeding has no business starting Redis or push delivery.
    """
    db = Database(settings)
    bus = LocalBus()
    accounts = AccountHandler(
        settings,
        db,
        bus,
        Passwords(settings),
        LocalLoginLimiter(settings.login_attempts_per_minute),
    )
    brands = BrandHandler(db, bus)
    try:
        for account in demo_accounts():
            body = AccountCreate(account.email, DEMO_PASSWORD, account.display_name)
            try:
                await accounts.sign_up(body)
            except ApiError as error:
                if error.code != "email_taken":
                    raise
        for brand in DEMO_BRANDS:
            try:
                await _seed_brand(accounts, brands, brand)
            except ApiError as error:
                # Someone else's @acme, or a demo password changed since: leave it alone.
                log.warning("demo brand @%s not seeded: %s", brand.handle, error.message)
    finally:
        await bus.close()
        await db.close()


async def _seed_brand(accounts: AccountHandler, brands: BrandHandler, brand: DemoBrand) -> None:
    session = await accounts.sign_in(
        SessionCreate(email=brand.owner.email, password=DEMO_PASSWORD, device_name="demo seed"),
        client_ip="127.0.0.1",
    )
    try:
        owner = await _viewer(accounts, session.token)
        try:
            await brands.create(
                owner,
                BrandCreate(handle=brand.handle, name=brand.name, description=brand.description),
            )
        except ApiError as error:
            if error.code != "handle_taken":
                raise
        # Roles are read when a token is authenticated: read them again now that the
        # brand exists, so the owner may add the agent.
        owner = await _viewer(accounts, session.token)
        await brands.put_member(
            owner, brand.handle, MemberAdd(email=brand.agent.email, role="agent")
        )
    finally:
        await accounts.sign_out(await _viewer(accounts, session.token))


async def _viewer(accounts: AccountHandler, token: str) -> Viewer:
    viewer = await accounts.authenticate(token)
    if viewer is None:
        raise ApiError(401, "unauthenticated", "the demo session died")
    return viewer


def describe(url: str) -> str:
    """How to sign in to the demo, for the operator's terminal."""
    width = max(len(account.email) for account in demo_accounts())
    lines = [f"atdesk demo: every account's password is {DEMO_PASSWORD!r}"]
    lines += [f"  {a.email:<{width}}  {a.title}" for a in demo_accounts()]
    lines.append(f"Open the consumer app (phone-sized): {url}/app   as {DEMO_CONSUMER.email}")
    lines.append(f"Open the brand console:              {url}/console   as an owner or agent")
    lines.append("Or chat as the consumer from another terminal:")
    lines.append(
        f"  python -m atdesk_sdk chat @acme --url {url} "
        f"--email {DEMO_CONSUMER.email} --password {DEMO_PASSWORD}"
    )
    return "\n".join(lines) + "\n"


def seed_demo(settings: Settings, url: str) -> int:
    """Seed the demo data and print how to sign in; the exit status (0: ready)."""
    try:
        asyncio.run(seed(settings))
    except Exception as error:  # one clear line for the operator, as for migrations
        sys.stderr.write(f"atdesk: could not seed the demo data: {error}\n")
        return 1
    sys.stdout.write(describe(url))
    sys.stdout.flush()
    return 0
