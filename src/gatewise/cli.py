"""``gatewise``: start the OpenAI-compatible proxy.

    gatewise --config config.yaml [--host 0.0.0.0] [--port 4000] [--workers N]
    gatewise --model mistral/mistral-small-latest     # one model, no file
    gatewise db upgrade --config config.yaml          # migrate the database separately
    gatewise --version

Server code is imported only once the arguments are read, so ``--help`` and ``--version``
are instant.  The address is taken first: a port in use is one line and exit status 3
before anything else is said or loaded.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from gatewise import __version__

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
EXIT_SERVER_FAILED = 1
EXIT_BAD_CONFIG = 2  # argparse's status for bad arguments too
EXIT_CANNOT_LISTEN = 3
_EPILOG = f"""\
exit status:
  0  stopped by SIGINT or SIGTERM (after the graceful shutdown)
  {EXIT_SERVER_FAILED}  the server failed after it had started listening
  {EXIT_BAD_CONFIG}  bad arguments, or a config that cannot be used
  {EXIT_CANNOT_LISTEN}  cannot listen on HOST:PORT (e.g. the port is in use by another process)
"""


def _port(text: str) -> int:
    """``--port``: 1-65535, or 0 for any free port (the one taken is announced)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 1 to 65535 (or 0 for any free port), got {text!r}")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gatewise", description="An OpenAI-compatible proxy in front of Mistral AI.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", "-c", metavar="PATH", help="the proxy's YAML config")
    source.add_argument("--model", "-m", action="append", metavar="PROVIDER/MODEL",
                        help="serve this model without a config file (repeatable); "
                             "clients use the same string as model name")
    parser.add_argument("--host", default="0.0.0.0",
                        help="address to listen on (default %(default)s)")
    parser.add_argument("--port", "-p", type=_port, default=4000,
                        help="port to listen on, 1-65535; 0 takes any free port "
                             "(default %(default)s)")
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

    from gatewise.proxy.listener import open_listener

    try:
        sock = open_listener(args.host, args.port, args.workers)
    except OSError as exc:  # before anything else: the other lines would be for nothing
        _say(f"gatewise: cannot listen on {_address(args.host, args.port)}: {_reason(exc)}")
        return EXIT_CANNOT_LISTEN

    from gatewise.proxy.app import create_app
    from gatewise.proxy.config import ConfigError, config_for_models, load_config
    from gatewise.proxy.server import ServeOptions, serve, startup_report, telemetry_lines

    try:
        config = load_config(args.config) if args.config else config_for_models(args.model)
        app = create_app(config, workers=args.workers)
    except ConfigError as exc:
        sock.close()
        _say("gatewise: the config cannot be used:\n  " + "\n  ".join(exc.problems))
        return EXIT_BAD_CONFIG
    for line in startup_report(app.state):
        _say(line)
    metrics_sock = None
    if config.metrics_port is not None and config.telemetry.prometheus:
        try:
            metrics_sock = open_listener(args.host, config.metrics_port, args.workers)
        except OSError as exc:
            sock.close()
            _say(f"gatewise: cannot listen on {_address(args.host, config.metrics_port)} "
                 f"(general_settings.metrics_port): {_reason(exc)}")
            return EXIT_CANNOT_LISTEN
    # Several workers' metrics are summed through files in one directory, named to them
    # before they start (prometheus_client reads it when first imported).
    metrics_dir = None
    if config.telemetry.prometheus:
        from gatewise.telemetry.prometheus.exposition import multiprocess, prepare_directory

        if args.workers > 1 or multiprocess():
            metrics_dir = prepare_directory()
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
        for line in telemetry_lines(config, port, metrics_sock):
            _say(line)

    try:
        return 0 if serve(app, options, sock, announce, metrics_sock) else EXIT_SERVER_FAILED
    finally:
        if metrics_dir is not None:
            from gatewise.telemetry.prometheus.exposition import remove_directory

            remove_directory(metrics_dir)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _reason(exc: OSError) -> str:
    """``address already in use``, ``permission denied``, ``name or service not known``..."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]
