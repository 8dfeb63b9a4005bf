"""`lclog demo | redact | check-config`: the command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import orjson

from lclog.config import ConfigError, LogTarget, NotifySettings, OutputSettings, load_config

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from lclog.demo import run_demo
    from lclog.handler import LoggingCallbackHandler

    fmt = args.format or ("pretty" if sys.stdout.isatty() else "json")
    overrides: dict[str, object] = {}
    if not args.config:
        # The demo's own setup: events on stdout, and the agent's failing tool (which it recovers
        # from) notified through a log target, which prints on stderr.
        overrides = {
            "outputs": [OutputSettings(type="stdout", format=fmt)],
            "notify": NotifySettings(targets=[LogTarget(type="log")], recovered=True, min_interval_s=0),
        }
    settings = load_config(args.config, **overrides)
    if args.format and args.config:
        outputs = [o if o.type == "file" else o.model_copy(update={"format": fmt}) for o in settings.outputs]
        settings = settings.model_copy(update={"outputs": outputs})
    handler = LoggingCallbackHandler(settings)

    def say(text: str) -> None:
        handler.flush()
        if fmt == "pretty":
            print(f"\n== {text}", flush=True)

    try:
        run_demo([handler], say=say)
    finally:
        handler.close()
    out = sys.stdout if fmt == "pretty" else sys.stderr
    print("\n== metrics (handler.metrics)", file=out)
    print(handler.metrics.summary(), file=out)
    stats = handler.stats.as_dict()
    print("\n== stats (handler.stats)", file=out)
    print(" ".join(f"{k}={v}" for k, v in stats.items()), file=out, flush=True)
    return 0


def _redact(args: argparse.Namespace) -> int:
    from lclog.redaction import Redactor

    settings = load_config(args.config)
    redactor = Redactor(settings.redaction)
    for raw in sys.stdin:
        line = raw.rstrip("\n")
        if args.explain:
            for f in redactor.explain(line):
                print(f"{f.rule}\t{f.start}-{f.end}\t{f.preview}")
            continue
        try:
            value = orjson.loads(line) if line.lstrip().startswith(("{", "[")) else None
        except orjson.JSONDecodeError:
            value = None
        if value is not None:
            sys.stdout.buffer.write(orjson.dumps(redactor.redact_value(value)) + b"\n")
            sys.stdout.flush()
        else:
            print(redactor.redact_text(line), flush=True)
    return 0


def _check_config(args: argparse.Namespace) -> int:
    settings = load_config(args.path)
    from lclog.handler import LoggingCallbackHandler

    with LoggingCallbackHandler(settings, outputs=[]):
        pass  # builds every part: rules, processors
    print(f"{args.path}: ok (service={settings.service}, outputs={len(settings.outputs)})")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lclog", description="Structured logs for LangChain.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run offline LangChain workloads and show their events")
    demo.add_argument("--format", choices=["pretty", "json"], help="default: pretty on a terminal")
    demo.add_argument("--config", help="a config file (default: built-in defaults)")
    demo.set_defaults(func=_demo)
    redact = sub.add_parser("redact", help="redact text or JSON lines from stdin")
    redact.add_argument("--config", help="a config file with redaction rules")
    redact.add_argument("--explain", action="store_true", help="list which rule matched where")
    redact.set_defaults(func=_redact)
    check = sub.add_parser("check-config", help="validate a config file")
    check.add_argument("path")
    check.set_defaults(func=_check_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"lclog: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`lclog demo | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
