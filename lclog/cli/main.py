"""`lclog demo | redact | pretty | stats | thread | report | check-config`: the command line."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from lclog.errors import ConfigError, InputError

# Each command imports what it needs when it runs: `pretty`, `stats` and `--help` load neither
# pydantic nor LangChain, and start in a tenth of the time.

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from lclog.capture.handler import LoggingCallbackHandler
    from lclog.cli.demo import explore_commands, run_demo
    from lclog.config import LogTarget, NotifySettings, OutputSettings, load_config
    from lclog.outputs.base import MemoryOutput

    fmt = args.format or ("pretty" if sys.stdout.isatty() else "json")
    overrides: dict[str, object] = {}
    if not args.config:
        # The demo's own setup: events on stdout, and the agent's failing tool (which it recovers
        # from) notified through a log target, which prints on stderr.
        overrides = {
            "outputs": [OutputSettings(type="stdout", format=fmt)],
            "notify": NotifySettings(targets=[LogTarget(type="log")], recovered=True, min_interval_s=0),
        }
    if args.verbosity:
        overrides["verbosity"] = args.verbosity
    settings = load_config(args.config, **overrides)
    if args.format and args.config:
        outputs = [o if o.type == "file" else o.model_copy(update={"format": fmt}) for o in settings.outputs]
        settings = settings.model_copy(update={"outputs": outputs})
    handler = LoggingCallbackHandler(settings)
    # Next to it, the same run counted at the other verbosity (lines only, in memory), to show
    # what the choice writes.
    other = "full" if settings.verbosity != "full" else "standard"
    counted = MemoryOutput()
    counter = LoggingCallbackHandler(None, outputs=[counted], verbosity=other)

    # The demo's own notify setup sends the failure the agent recovers from; a config notifies
    # recovered failures only with `recovered: true`, so say which one runs.
    note = (
        "; notified on stderr by the demo's own setup: a log target with recovered: true"
        if not args.config
        else "; notified as your config's notify section says (recovered failures need recovered: true)"
    )

    def say(text: str) -> None:
        handler.flush()
        if fmt == "pretty":
            print(f"\n== {text}", flush=True)

    try:
        run_demo([handler, counter], say=say, notify_note=note)
    finally:
        handler.close()
        counter.close()
    if any(getattr(output, "broken", False) for output in handler.outputs):
        return 0  # the reader left (`lclog demo | head`): nothing more to show it
    out = sys.stdout if fmt == "pretty" else sys.stderr
    print("\n== metrics (handler.metrics)", file=out)
    print(handler.metrics.summary(), file=out)
    stats = handler.stats.as_dict()
    print("\n== stats (handler.stats)", file=out)
    print(" ".join(f"{k}={v}" for k, v in stats.items()), file=out)
    print(
        f"\n== volume: {stats['emitted']} lines with verbosity: {settings.verbosity}; "
        f"{len(counted.lines)} with verbosity: {other} (lclog demo --verbosity {other})",
        file=out,
    )
    conversation = any(e.get("thread_id") for e in counted.events)
    print("\n== explore what it wrote:", file=out)
    print("\n".join(f"  {c}" for c in explore_commands(conversation)), file=out, flush=True)
    return 0


# Into a pipe or a file, text is redacted in blocks of about this many bytes: one search over a
# block instead of one per line (and a PEM key spread over lines is caught whole).
_REDACT_BLOCK = 1 << 20
_JSON_LINE = re.compile(rb"^[ \t]*[\[{]", re.M)


def _redact(args: argparse.Namespace) -> int:
    from lclog.config import load_config
    from lclog.redact.redactor import shared_redactor

    settings = load_config(args.config)
    redactor = shared_redactor(settings.redaction)  # compiled once, by load_config's check
    stream = _Redacting(redactor, sys.stdout.buffer)
    if args.explain:
        stream.explain(sys.stdin.buffer)
    elif sys.stdout.isatty():
        stream.lines(sys.stdin.buffer)
    else:
        stream.blocks(sys.stdin.buffer)
    return 0


class _Redacting:
    """`lclog redact`: text and JSON lines from a binary stream, redacted, to `out`."""

    def __init__(self, redactor: Any, out: Any) -> None:
        self.redactor = redactor
        self.out = out

    def line(self, raw: bytes) -> bytes:
        """One line: a JSON value redacted value by value, anything else as text."""
        line = raw.rstrip(b"\r\n")
        value = _json_or_none(line) if _JSON_LINE.match(line) else None
        if type(value) is dict:  # an event: `redaction.fields` rules apply, as in the handler
            return orjson.dumps(self.redactor.redact_record(value)) + b"\n"
        if value is not None:
            return orjson.dumps(self.redactor.redact_value(value)) + b"\n"
        redacted = self.redactor.redact_text(line.decode("utf-8", "surrogateescape"))
        return redacted.encode("utf-8", "surrogateescape") + b"\n"

    def explain(self, stream: Any) -> None:
        """What each rule found on each line (rule, line:span, a preview), flushed line by line."""
        for number, raw in enumerate(stream, 1):
            line = raw.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
            for f in self.redactor.explain(line):
                self.out.write(f"{f.rule}\t{number}:{f.start}-{f.end}\t{f.preview}\n".encode())
            self.out.flush()

    def lines(self, stream: Any) -> None:
        """Line by line, each flushed: `tail -f app.log | lclog redact` shows lines as they come,
        but for the lines of a secret still open (a PEM key's), shown once it is whole."""
        held = b""
        for raw in stream:
            if not held and _JSON_LINE.match(raw):
                self.out.write(self.line(raw))
            else:
                redacted, used = self.redactor.redact_lines(held + raw, final=False)
                self.out.write(redacted)
                held = (held + raw)[used:]
            self.out.flush()
        if held:
            self.out.write(self.redactor.redact_lines(held, final=True)[0])
        self.out.flush()

    def blocks(self, stream: Any) -> None:
        """Into a pipe or a file: whole blocks of text at once, JSON lines one by one, in order."""
        pending = b""
        read = getattr(stream, "read1", None)
        while read is not None:
            chunk = read(_REDACT_BLOCK)
            if not chunk:
                break
            pending += chunk
            if b"\n" not in chunk and len(pending) < 16 * _REDACT_BLOCK:
                continue  # no whole line yet
            pending = self._block(pending, final=len(pending) >= 16 * _REDACT_BLOCK)
        if pending:
            self._block(pending, final=True, last=True)
        self.out.flush()

    def _block(self, pending: bytes, *, final: bool, last: bool = False) -> bytes:
        """Writes what of `pending` can be written (`final`: a secret still open is cut; `last`:
        the stream's end); returns the rest."""
        maybe_json = b"{" in pending or b"[" in pending  # a quick look before the exact one
        if not maybe_json or _JSON_LINE.search(pending) is None:
            # A block ends at a line that no secret runs across (a PEM key spans lines).
            redacted, used = self.redactor.redact_lines(pending, final=final)
            self.out.write(redacted)
            return pending[used:]
        cut = len(pending) if last else pending.rfind(b"\n") + 1 or len(pending)
        for raw in pending[:cut].splitlines(keepends=True):
            self.out.write(self.line(raw))
        return pending[cut:]


def _json_or_none(line: str | bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _pretty(args: argparse.Namespace) -> int:
    from lclog.cli.lines import follow, open_inputs, parse
    from lclog.outputs.pretty import render_pretty, terminal_width

    color = sys.stdout.isatty() if args.color is None else args.color
    out = sys.stdout
    width = terminal_width(out)  # lines fit a terminal; files and pipes get them whole
    written = False
    for _, stream in open_inputs([args.file] if args.file else []):
        lines = follow(stream) if args.follow else stream
        trace = None
        for raw in lines:
            event = parse(raw)
            if event is None:  # not an lclog event: passed through
                out.write(raw.decode("utf-8", "replace"))
                written = True
                continue
            if event.get("trace_id") != trace:
                trace = event.get("trace_id")
                out.write(f"{chr(10) if written else ''}── trace {trace}\n")
                written = True
            out.write(render_pretty(event, color=color, width=width) + "\n")
            if args.follow:
                out.flush()
    return 0


def _stats(args: argparse.Namespace) -> int:
    from lclog.cli.lines import open_inputs, parse
    from lclog.cli.summary import Coverage, LogSummary, TraceSummary

    try:
        stats: LogSummary | TraceSummary = TraceSummary() if args.by == "trace" else LogSummary(by=args.by)
    except ValueError as exc:
        print(f"lclog stats: {exc}", file=sys.stderr)
        return 2
    coverage = Coverage()
    progress = sys.stderr.isatty() and not args.json
    read, names = 0, []
    for name, stream in open_inputs(args.files):
        names.append(name)
        total = os.path.getsize(name) if name != "<stdin>" else 0
        done, shown = 0, 0.0
        for raw in stream:
            done += len(raw)
            event = parse(raw)
            if event is not None:
                read += 1
                stats.add(event)
                coverage.add(event)
            if progress and total and done - shown > total / 100:
                shown = done
                sys.stderr.write(f"\r{name}: {100 * done / total:5.1f}% ")
        if progress and total:
            sys.stderr.write(f"\r{name}: 100.0%\n")
    if not read:
        print(f"lclog stats: no lclog events in {', '.join(names)}", file=sys.stderr)
        return 1
    if args.json:  # a sampled log's also says what it covers (`coverage`)
        rows: dict[str, Any] = {"coverage": coverage.row()} if coverage.sampled else {}
        rows.update(stats.rows())
        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        if coverage.sampled:
            print(coverage.note() + "\n")
        print(stats.table())
    return 0


def _thread(args: argparse.Namespace) -> int:
    from lclog.cli.lines import open_inputs
    from lclog.cli.thread import conversation_of, read_events, render_inputs, render_text

    streams = (stream for _, stream in open_inputs(args.files))
    conversation = conversation_of(args.id, read_events(streams))
    if args.json:
        data = conversation.as_json(inputs=args.inputs)
        sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        for line in (render_inputs if args.inputs else render_text)(conversation):
            print(line)
    if not conversation.events:
        print(f"lclog: no event of thread or trace {args.id!r} in the logs read", file=sys.stderr)
        return 1
    return 0


def _report(args: argparse.Namespace) -> int:
    from lclog.cli.report import Limits, build_report
    from lclog.cli.report_page import render_page

    if args.top < 1 or args.max_requests < 1:
        print("lclog report: --top and --max-requests must be at least 1", file=sys.stderr)
        return 2
    data = build_report(args.files, Limits(top=args.top, max_requests=args.max_requests))
    if not data["meta"]["events"]:
        print(f"lclog report: no lclog events in {', '.join(args.files) or '<stdin>'}", file=sys.stderr)
        return 1
    page = render_page(data)
    if args.output == "-":
        sys.stdout.buffer.write(page)
        return 0
    with open(args.output, "wb") as f:
        f.write(page)
    meta = data["meta"]
    print(
        f"lclog report: wrote {args.output} ({len(page):,} bytes): {meta['requests']:,} requests "
        f"from {meta['events']:,} events, {len(data['details'])} in full",
        file=sys.stderr,
    )
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from lclog.config import load_config
    from lclog.pipeline.layouts import schema_processor
    from lclog.redact.checks import random_hash_key_warning

    # Validates every field, compiles the redaction rules and imports processors and targets.
    settings = load_config(args.path)
    schema_processor(settings.schema_)
    warning = random_hash_key_warning(settings.redaction)
    if warning:
        print(f"{args.path}: warning: {warning}", file=sys.stderr)
    print(f"{args.path}: ok (service={settings.service}, outputs={len(settings.outputs)})")
    return 0


def _parser() -> argparse.ArgumentParser:
    from lclog import __version__

    parser = argparse.ArgumentParser(prog="lclog", description="Structured logs for LangChain.")
    parser.add_argument("--version", action="version", version=f"lclog {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run offline LangChain workloads and show their events")
    demo.add_argument("--format", choices=["pretty", "json"], help="default: pretty on a terminal")
    demo.add_argument("--config", help="a config file (default: built-in defaults)")
    demo.add_argument(
        "--verbosity", choices=["minimal", "standard", "full"], help="default: the config's (standard)"
    )
    demo.set_defaults(func=_demo)
    redact = sub.add_parser("redact", help="redact text or JSON lines from stdin")
    redact.add_argument("--config", help="a config file with redaction rules")
    redact.add_argument("--explain", action="store_true", help="list which rule matched where")
    redact.set_defaults(func=_redact)
    pretty = sub.add_parser("pretty", help="render lclog JSON lines as readable run trees")
    pretty.add_argument("file", nargs="?", help="a log file (default: stdin)")
    pretty.add_argument("--follow", "-f", action="store_true", help="keep reading as the file grows")
    pretty.add_argument(
        "--color", action=argparse.BooleanOptionalAction, default=None, help="default: on a terminal"
    )
    pretty.set_defaults(func=_pretty)
    stats = sub.add_parser("stats", help="calls, errors, latency and tokens per model, tool or chain")
    stats.add_argument("files", nargs="*", help="log files (default: stdin)")
    stats.add_argument(
        "--by",
        default="model",
        help="group by the model (LLM runs; names for tools, chains, retrievers), the run's name, "
        "its type, the service, the LangGraph node, the user, the tenant or the thread, or "
        "several joined by commas (`user,model`); `user`, `tenant` and `thread` alone count "
        "requests; or `trace`: the most expensive and the slowest requests (default: %(default)s)",
    )
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    stats.set_defaults(func=_stats)
    thread = sub.add_parser(
        "thread", help="rebuild one conversation (a thread or trace id) from the logs, every message once"
    )
    thread.add_argument("id", help="a thread_id (LangGraph thread, session_id) or a trace_id")
    thread.add_argument("files", nargs="*", help="log files, rotated ones too, in any order (default: stdin)")
    thread.add_argument("--json", action="store_true", help="machine-readable output")
    thread.add_argument(
        "--inputs", action="store_true", help="every model call's input instead, exactly as the model got it"
    )
    thread.set_defaults(func=_thread)
    report = sub.add_parser("report", help="one self-contained HTML page of the logs: charts, requests, runs")
    report.add_argument(
        "files", nargs="*", help="log files, rotated ones too, in any layout (default: stdin)"
    )
    report.add_argument(
        "-o",
        "--output",
        default="lclog-report.html",
        help="the page to write, `-` for stdout (default: %(default)s)",
    )
    report.add_argument(
        "--top",
        type=int,
        default=50,
        help="requests kept in full (runs, content) per list: slowest, most expensive, failed "
        "(default: %(default)s)",
    )
    report.add_argument(
        "--max-requests",
        type=int,
        default=200_000,
        help="requests in the page's charts and filters; past it, a uniform sample (default: %(default)s)",
    )
    report.set_defaults(func=_report)
    check = sub.add_parser("check-config", help="validate a config file")
    check.add_argument("path", help="a YAML or TOML file, or a pyproject.toml with [tool.lclog]")
    check.set_defaults(func=_check_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "files", None) is not None and not any(a.startswith("-") for a in extra):
        args.files = [*args.files, *extra]  # files after an option: `lclog thread ID --json FILE`
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"lclog: {exc}", file=sys.stderr)
        return 2
    except InputError as exc:
        print(f"lclog: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`lclog demo | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
