"""``gatewise``: start the OpenAI-compatible proxy.

    gatewise --config config.yaml [--host 0.0.0.0] [--port 4000] [--workers N]
    gatewise --model mistral/mistral-small-latest     # one model, no file
    gatewise db upgrade --config config.yaml          # migrate the database separately
    gatewise --version

Server code is imported only once the arguments are read, so ``--help`` and ``--version``
are instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from gatewise import __version__

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gatewise", description="An OpenAI-compatible proxy in front of Mistral AI.")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", "-c", metavar="PATH", help="the proxy's YAML config")
    source.add_argument("--model", "-m", action="append", metavar="PROVIDER/MODEL",
                        help="serve this model without a config file (repeatable); "
                             "clients use the same string as model name")
    parser.add_argument("--host", default="0.0.0.0",
                        help="address to listen on (default %(default)s)")
    parser.add_argument("--port", "-p", type=int, default=4000,
                        help="port to listen on (default %(default)s)")
    parser.add_argument("--workers", "-w", type=int, default=1,
                        help="worker processes sharing the port (default %(default)s)")
    parser.add_argument("--log-level", default="info", choices=LOG_LEVELS,
                        help="(default %(default)s)")
    parser.add_argument("--access-log", action="store_true",
                        help="log one line per request (costs throughput)")
    parser.add_argument("--version", "-V", action="version", version=f"gatewise {__version__}")
    return parser


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(name)s: %(message)s"))
    logger = logging.getLogger("gatewise")
    logger.addHandler(handler)
    logger.setLevel(5 if level == "trace" else level.upper())
    logger.propagate = False


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["db"]:
        from gatewise.db.command import main as db_main

        return db_main(argv[1:])
    args = _parser().parse_args(argv)
    if not args.config and not args.model:
        _parser().error("give --config PATH or --model PROVIDER/MODEL")
    if args.workers < 1:
        _parser().error("--workers must be at least 1")
    _setup_logging(args.log_level)

    from gatewise.proxy.app import create_app
    from gatewise.proxy.config import ConfigError, config_for_models, load_config
    from gatewise.proxy.server import ServeOptions, serve, startup_report

    try:
        config = load_config(args.config) if args.config else config_for_models(args.model)
        app = create_app(config, workers=args.workers)
    except ConfigError as exc:
        _say("gatewise: the config cannot be used:\n  " + "\n  ".join(exc.problems))
        return 2
    for line in startup_report(app.state):
        _say(line)
    options = ServeOptions(host=args.host, port=args.port, workers=args.workers,
                           log_level=args.log_level, access_log=args.access_log,
                           config_path=args.config, models=tuple(args.model or ()),
                           max_header_bytes=config.max_request_header_bytes,
                           client_timeout=config.client_timeout,
                           graceful_shutdown_timeout=config.graceful_shutdown_timeout)

    def announce(port: int) -> None:
        shown = "localhost" if args.host in ("0.0.0.0", "::") else args.host
        _say(f"gatewise {__version__} listening on http://{args.host}:{port} "
             f"(OpenAI base URL: http://{shown}:{port}/v1)")
        _say(f"serving models: {app.state.names}")

    return 0 if serve(app, options, announce) else 1
