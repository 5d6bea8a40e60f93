"""``atdesk serve`` and ``atdesk migrate``."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from gateway.protocol import MAX_FRAME_BYTES, CloseCode
from gateway.settings import Settings, SettingsError, load_settings

log = logging.getLogger("atdesk")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="atdesk", description="the atdesk gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    commands.add_parser("migrate", help="upgrade the database schema to the newest revision")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(args, "log_level", "info").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings()
    except SettingsError as error:
        sys.stderr.write(f"atdesk: {error}\n")
        return 2
    if args.command == "migrate":
        return _migrate(settings)
    if settings.is_sqlite and _migrate(settings) != 0:
        return 1  # the embedded default keeps itself up to date; PostgreSQL is migrated on purpose
    return _serve(settings, args.host, args.port, args.log_level)


def _migrate(settings: Settings) -> int:
    from gateway.database import migrate

    try:
        migrate(settings.database_url)
    except Exception as error:  # a clear line, not a traceback, for the operator
        sys.stderr.write(f"atdesk: could not migrate the database: {error}\n")
        return 1
    log.info("database schema is up to date")
    return 0


class _Server(uvicorn.Server):
    """Tells live sockets to reconnect elsewhere (1001) before uvicorn closes them its way."""

    async def shutdown(self, sockets: object = None) -> None:
        app = self.config.loaded_app
        gateway = getattr(getattr(app, "app", app), "state", None)
        if gateway is not None and hasattr(gateway, "gateway"):
            gateway.gateway.hub.close_all(CloseCode.GOING_AWAY, "gateway shutting down")
        await super().shutdown(sockets=sockets)  # type: ignore[arg-type]


def _serve(settings: Settings, host: str, port: int, log_level: str) -> int:
    from gateway.app import create_app

    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        ws="websockets-sansio",
        ws_max_size=MAX_FRAME_BYTES,
        ws_ping_interval=settings.heartbeat_s,
        ws_ping_timeout=settings.heartbeat_s,
        ws_per_message_deflate=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
    log.info("atdesk gateway on http://%s:%d", host, port)
    _Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
