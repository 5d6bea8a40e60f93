"""``atdesk serve`` and ``atdesk migrate``."""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING

import uvicorn
from starlette.types import ASGIApp

from gateway import collector, logs
from gateway.http_protocol import GatewayHTTPProtocol
from gateway.protocol import MAX_FRAME_BYTES, CloseCode
from gateway.settings import Settings, SettingsError, load_settings
from gateway.ws_protocol import GatewayWebSocketProtocol

if TYPE_CHECKING:
    from gateway.app import Gateway

log = logging.getLogger("atdesk")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="atdesk", description="the atdesk gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    serve.add_argument(
        "--log-format", choices=["json", "text"], default=None,
        help="json lines (the default when stderr is not a terminal) or text",
    )  # fmt: skip
    serve.add_argument(
        "--workers", type=int, default=1,
        help="processes sharing the port; more than one needs ATDESK_REDIS_URL",
    )  # fmt: skip
    serve.add_argument(
        "--demo", action="store_true", help="seed demo brands and accounts; print how to sign in"
    )
    commands.add_parser("migrate", help="upgrade the database schema to the newest revision")
    args = parser.parse_args(argv)
    log_format = getattr(args, "log_format", None) or ("text" if sys.stderr.isatty() else "json")
    logs.configure(getattr(args, "log_level", "info"), json_lines=log_format == "json")
    try:
        settings = load_settings()
    except SettingsError as error:
        sys.stderr.write(f"atdesk: {error}\n")
        return 2
    if args.command == "migrate":
        return _migrate(settings)
    if args.workers < 1 or (args.workers > 1 and settings.redis_url is None):
        sys.stderr.write(
            "atdesk: --workers above 1 needs ATDESK_REDIS_URL: processes share events on Redis\n"
            if args.workers > 1
            else "atdesk: --workers must be at least 1\n"
        )
        return 2
    if settings.is_sqlite and _migrate(settings) != 0:
        return 1  # the embedded default keeps itself up to date; PostgreSQL is migrated on purpose
    if getattr(args, "demo", False):
        from gateway.demo import seed_demo

        if seed_demo(settings, f"http://{args.host}:{args.port}") != 0:
            return 1
    return _serve(settings, args)


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

    def __init__(self, config: uvicorn.Config, gateway: Gateway) -> None:
        super().__init__(config)
        self.gateway = gateway

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.gateway.close_sockets(CloseCode.GOING_AWAY, "gateway shutting down")
        await super().shutdown(sockets=sockets)


def _config(settings: Settings, app: ASGIApp | str, args: argparse.Namespace) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=None,  # ours (gateway.logs), set up before uvicorn starts
        http=GatewayHTTPProtocol,  # uvicorn's choice, its closed connections freed at once
        ws=GatewayWebSocketProtocol,  # uvicorn's websockets-sansio, tuned
        ws_max_size=MAX_FRAME_BYTES,
        ws_ping_interval=settings.heartbeat_s,
        ws_ping_timeout=settings.heartbeat_s,
        ws_per_message_deflate=settings.ws_deflate,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
        timeout_graceful_shutdown=10,
    )


def _run_worker(settings: Settings, args: argparse.Namespace, listener: socket.socket) -> None:
    from gateway.app import create_app

    log_format = args.log_format or ("text" if sys.stderr.isatty() else "json")
    logs.configure(args.log_level, json_lines=log_format == "json")
    app = create_app(settings)
    collector.tune_for_serving()
    _Server(_config(settings, app, args), app.state.gateway).run(sockets=[listener])


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.app import create_app

    if args.workers == 1:
        app = create_app(settings)
        url = f"http://{args.host}:{args.port}"
        log.info(
            "atdesk gateway on %s: the consumer app %s/app, the console %s/console", url, url, url
        )
        collector.tune_for_serving()
        _Server(_config(settings, app, args), app.state.gateway).run()
        return 0
    # One listening socket, shared by N processes, each a full gateway on the Redis bus.
    listener = _config(settings, "gateway.app:create_app", args).bind_socket()
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_run_worker, args=(settings, args, listener), daemon=False)
        for _ in range(args.workers)
    ]
    for worker in workers:
        worker.start()
    log.info("atdesk gateway on http://%s:%d, %d workers", args.host, args.port, len(workers))

    def forward(signum: int, _frame: object) -> None:
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for worker in workers:
        worker.join()
    return (
        0
        if all(worker.exitcode in (0, -signal.SIGTERM, -signal.SIGINT) for worker in workers)
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
