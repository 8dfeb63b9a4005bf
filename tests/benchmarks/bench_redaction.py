"""Redaction throughput: lclog's RE2 rule set next to the per-pattern Python `re` approach.

    python tests/benchmarks/bench_redaction.py [--seconds 1.0] [--baseline PATH] [--out results.json]
    python tests/benchmarks/bench_redaction.py --instructions [--baseline PATH]

First, prompts of 2.5 KB each holding 25 secrets of 16 kinds (API keys with tagged names, tokens,
URLs with passwords, JWTs, XML and JSON values, cards, phones, addresses), every one new: the
median time a prompt takes once 100 prompts have warmed the rules up, as in a service that has
run a while. `--baseline PATH` (a checkout of another commit, `git worktree add /tmp/base
<commit>`) runs the same prompts with that commit's lclog alongside.

Texts: 1 KB and 100 KB of prose, clean (no secrets) and secret-dense (a secret about every
100 bytes: emails, API keys, card numbers, phone numbers, key=value pairs), the dense text
once with eight secrets recurring (as a user's key and address recur across a conversation)
and once with every secret distinct. Both engines run the same built-in rules on the same
texts; lclog's caches are cleared before every call of the distinct-secret text, and its
whole-string cache before every other call, so each call really scans. Reported: MB/s
(median of 5 timed runs) and lclog's speed-up. Then lclog alone on 1 MB of hostile text,
shaped to make a regex engine scan the same stretch again for every match. Last, the `lclog
redact` command on 100 MB of prose with a secret every ~20 KB, from a file into a pipe: its
start-up (on empty input) and its throughput after it (medians of 5 runs).

`--instructions` counts instead what one mixed prompt and one KB of clean prose execute, under
`valgrind --tool=cachegrind` (which must be on the PATH): 100 prompts to warm up, then 300 more
in one run and none in the other, the difference divided by 300. Time here moves by a tenth from
one hour to the next; the count, by under 1%. The scanner's CPU-time budget for hostile text is
lifted in these runs, since valgrind's slowdown would otherwise spend it on ordinary text.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from lclog.redact import _scanner
from lclog.redact.redactor import Redactor

_PROSE = (
    "the quarterly report covers revenue costs and hiring plans for the next year while the "
    "model answers questions about retrieval augmented generation in section 3 on page 12"
)
WORDS = _PROSE.split()
SECRETS = [
    "jane.doe@example.com",
    "AKIA2OGYBAH6STMMNXNN",
    "ghp_" + "x7Vq" * 9,
    "sk-proj-Xq7vR2mT9wK4pL8nB3cF6hJ1",
    "api_key=abcdef123456",
    "4111 1111 1111 1111",
    "+1 415-555-0134",
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.Xq2vR7mT9wK",
]


# Text built to make a regex engine scan the same stretch again and again: partial matches that
# stay alive to the end of a long run, with matches of other rules inside it.
HOSTILE = {
    "PEM headers without an END line": "-----BEGIN RSA PRIVATE KEY----- x ",
    "JWT-shaped runs without spaces": "eyJaaaaaaaaa.eyJaaaaaaaaax",
    "rejected card numbers between emails": "4111 1111 1111 1112 a@b.io ",
    "unclosed quoted values": "token: 'abc ",
}


def mixed_prompt(rng: random.Random, size: int = 2_500, secrets: int = 25) -> str:
    """A prompt of `size` bytes holding `secrets` secrets of different kinds, all new, in the
    shapes people paste: config lines, headers, URLs, JSON, key names with tags, PII."""

    def chars(alphabet: str, n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    shapes = [
        lambda: f"OPENAI_API_KEY_PROD=sk-proj-{chars(alnum, 40)}",
        lambda: f"ghp_{chars(alnum, 36)}",
        lambda: f"{chars('abcdefghij', 6)}.{chars('abcdefghij', 5)}@{chars('abcdefghij', 7)}.com",
        lambda: f"postgres://admin:{chars(alnum, 14)}@db.internal:5432/app",
        lambda: f"eyJhbGciOiJIUzI1NiJ9.eyJ{chars(alnum, 30)}.{chars(alnum, 40)}",
        lambda: f"AKIA{chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}",
        lambda: f"aws_secret_access_key = {chars(alnum, 40)}",
        lambda: f'"db_password": "{chars(alnum, 16)}"',
        lambda: f"Authorization: Bearer {chars(alnum, 32)}",
        lambda: f"xoxb-{rng.randrange(10**11, 10**12)}-{chars(alnum, 24)}",
        lambda: f"card {_card(rng)} exp 04/29",
        lambda: f"call +1 415-555-{rng.randrange(1000, 9999)}",
        lambda: f"from 10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
        lambda: f"<password>{chars(alnum, 8)} {chars(alnum, 8)}</password>",
        lambda: f'apiKey := "{chars(alnum, 32)}"',
        lambda: f"sk_live_{chars(alnum, 24)}",
    ]
    parts = [rng.choice(shapes)() for _ in range(secrets)]
    prose_each = max(1, (size - sum(len(p) + 2 for p in parts)) // secrets)
    out = []
    for part in parts:
        words = []
        while sum(len(w) + 1 for w in words) < prose_each:
            words.append(rng.choice(WORDS))
        out.append(" ".join(words) + "\n" + part + "\n")
    return "".join(out)[:size]


def mixed_rows(prompts: int = 300, first: int = 50, warm: int = 100) -> list[dict[str, object]]:
    """Mixed prompts, each new (caches cleared, as for text never seen), through a new Redactor:
    the median time of the `first` prompts of the process, then of `prompts` more once `warm`
    prompts have run."""
    rng = random.Random(5)
    texts = [mixed_prompt(rng) for _ in range(warm + prompts)]
    redactor = Redactor()
    forget = _forget_all(redactor)

    def median(batch: list[str]) -> dict[str, float]:
        times = []
        for text in batch:
            forget()
            start = time.perf_counter()
            redactor.redact_text(text)
            times.append(time.perf_counter() - start)
        m = statistics.median(times)
        return {"us": round(m * 1e6, 1), "mb_s": round(len(batch[0].encode()) / m / 1e6, 2)}

    cold = median(texts[:first])
    for text in texts[first:warm]:
        redactor.redact_text(text)
    return [
        {"text": f"mixed prompt, first {first} of a process", **cold},
        {"text": "mixed prompt, warmed up", **median(texts[warm:])},
    ]


def _card(rng: random.Random) -> str:
    card = [4, *(rng.randrange(10) for _ in range(14))]
    check = next(d for d in range(10) if _luhn_ok([*card, d]))
    return "".join(map(str, [*card, check]))


def _fresh_secret(rng: random.Random) -> str:
    """A secret of the same kinds as SECRETS, with new characters every time."""

    def chars(alphabet: str, n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    lower, upper, digits = "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"
    alnum = lower + upper + digits
    card = [4, *(rng.randrange(10) for _ in range(14))]
    check = next(d for d in range(10) if _luhn_ok([*card, d]))
    number = "".join(map(str, [*card, check]))
    return rng.choice(
        [
            f"{chars(lower, 6)}.{chars(lower, 5)}@{chars(lower, 8)}.com",
            "AKIA" + chars(upper + digits, 16),
            "ghp_" + chars(alnum, 36),
            "sk-proj-" + chars(alnum, 24),
            "api_key=" + chars(alnum, 12),
            " ".join(number[i : i + 4] for i in range(0, 16, 4)),
            f"+1 {rng.randrange(200, 999)}-555-{rng.randrange(1000, 9999)}",
            f"Bearer eyJ{chars(alnum, 16)}.eyJ{chars(alnum, 16)}.{chars(alnum, 11)}",
        ]
    )


def _luhn_ok(digits: list[int]) -> bool:
    total = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
    return total % 10 == 0


def make_text(size: int, dense: bool, seed: int = 7, distinct: bool = False) -> str:
    rng = random.Random(seed)
    out: list[str] = []
    length = 0
    since_secret = 0
    while length < size:
        if dense and since_secret >= 100:
            word, since_secret = _fresh_secret(rng) if distinct else rng.choice(SECRETS), 0
        else:
            word = rng.choice(WORDS)
        out.append(word)
        length += len(word) + 1
        since_secret += len(word) + 1
    return " ".join(out)[:size]


def python_re_baseline() -> Callable[[str], str]:
    """The usual approach: every rule's pattern run one after another with Python's re."""
    from lclog.redact.key_rules import KeyNames, key_value_rules
    from lclog.redact.rules import BUILTIN_RULES

    rules = [*BUILTIN_RULES, *key_value_rules(KeyNames.build())]
    compiled = [(r.name, re.compile(r.pattern)) for r in rules]

    def redact(text: str) -> str:
        for name, pattern in compiled:
            text = pattern.sub(f"[REDACTED:{name}]", text)
        return text

    return redact


def _forget_all(redactor: Redactor) -> Callable[[], None]:
    def forget() -> None:
        redactor._cache.clear()
        redactor._scanner._judged.clear()

    return forget


def throughput(fn: Callable[[str], str], text: str, seconds: float, before: Callable[[], None]) -> float:
    runs = []
    for _ in range(5):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 5:
            before()
            fn(text)
            n += 1
        runs.append(len(text.encode()) * n / (time.perf_counter() - start) / 1e6)
    return statistics.median(runs)


_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")
_COUNTED = 300


def _instructions_child(kind: str, count: int) -> None:
    """Redacts 100 texts of the kind to warm up, then `count` more, each new to every cache."""
    _scanner._FUSED_BUDGET_NS = sys.maxsize  # see --instructions
    rng = random.Random(5)
    if kind == "mixed":
        texts = [mixed_prompt(rng) for _ in range(100 + _COUNTED)]
    else:
        texts = [make_text(1_000, False, seed=i) for i in range(100 + _COUNTED)]
    redactor = Redactor()
    forget = _forget_all(redactor)
    for text in texts[:100]:
        redactor.redact_text(text)
    for text in texts[100 : 100 + count]:
        forget()
        redactor.redact_text(text)


def _counted(kind: str, count: int, lclog_path: str | None) -> int:
    env = dict(os.environ)
    if lclog_path:
        env["PYTHONPATH"] = os.path.abspath(lclog_path)
    proc = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, __file__, "--instructions-child", kind, str(count)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = _REFS.search(proc.stderr)
    if found is None:
        sys.exit(f"valgrind printed no instruction count:\n{proc.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def instruction_rows(baseline: str | None) -> list[dict[str, object]]:
    """Instructions one text executes: a mixed prompt and 1 KB of prose, now and at baseline."""
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    rows: list[dict[str, object]] = []
    print(f"{'instructions per text':44s} {'now':>12s} {'baseline':>12s}")
    for kind, label in (("mixed", "2.5 KB mixed prompt, 25 new secrets"), ("clean", "1 KB of prose")):
        per: dict[str, int] = {}
        for side, path in (("now", None), ("baseline", baseline)):
            if side == "baseline" and not baseline:
                continue
            per[side] = (_counted(kind, _COUNTED, path) - _counted(kind, 0, path)) // _COUNTED
        rows.append({"text": label, "instructions": per})
        shown = f"{per['baseline']:12,d}" if "baseline" in per else ""
        print(f"{label:44s} {per['now']:12,d} {shown}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument(
        "--baseline", help="a checkout of another lclog commit: its mixed-prompt row is run alongside"
    )
    parser.add_argument("--instructions", action="store_true", help="count instructions (valgrind)")
    parser.add_argument("--mixed-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--instructions-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mixed_only:
        print(json.dumps(mixed_rows()))
        return
    if args.instructions_child:
        _instructions_child(args.instructions_child[0], int(args.instructions_child[1]))
        return
    if args.instructions:
        rows = instruction_rows(args.baseline)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(rows, f, indent=2)
        return
    print(f"{'2.5 KB prompts, 25 new secrets of 16 kinds':44s} {'us a prompt':>12s} {'MB/s':>6s}")
    rows = mixed_rows()
    if args.baseline:
        env = {**os.environ, "PYTHONPATH": os.path.abspath(args.baseline)}
        out = subprocess.run([sys.executable, __file__, "--mixed-only"], env=env, check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
        rows += [{**row, "text": row["text"] + ", baseline"} for row in json.loads(out)]
    for row in rows:
        print(f"{row['text']:44s} {row['us']:12.0f} {row['mb_s']:6.1f}")
    redactor = Redactor()
    baseline = python_re_baseline()
    print(f"\n{'text':24s} {'lclog MB/s':>11s} {'python re MB/s':>15s} {'speed-up':>9s} {'found':>6s}")
    for size in (1_000, 100_000):
        for dense, distinct in ((False, False), (True, False), (True, True)):
            text = make_text(size, dense, distinct=distinct)
            kind = "clean" if not dense else "dense, distinct" if distinct else "dense, recurring"
            label = f"{size // 1000} KB {kind}"
            forget = _forget_all(redactor) if distinct else redactor._cache.clear
            ours = throughput(redactor.redact_text, text, args.seconds, forget)
            theirs = throughput(baseline, text, args.seconds, lambda: None)
            found = len(redactor.explain(text))
            rows.append({"text": label, "lclog_mb_s": round(ours, 1), "python_re_mb_s": round(theirs, 2),
                         "speedup": round(ours / theirs, 1), "secrets_found": found})  # fmt: skip
            print(f"{label:24s} {ours:11.1f} {theirs:15.2f} {ours / theirs:8.1f}x {found:6d}")
    print(f"\n{'hostile text, 1 MB':40s} {'lclog MB/s':>11s}")
    for label, unit in HOSTILE.items():
        text = (unit * (1_000_000 // len(unit) + 1))[:1_000_000]
        ours = throughput(redactor.redact_text, text, args.seconds, _forget_all(redactor))
        rows.append({"text": f"hostile: {label}", "lclog_mb_s": round(ours, 1)})
        print(f"{label:40s} {ours:11.1f}")
    rows += cli_rows()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)


def _prose_file(path: str, size: int = 100_000_000) -> None:
    """Lines of prose with a secret every ~20 KB, as in a service's plain-text log."""
    rng = random.Random(3)
    lines, total, since = [], 0, 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(14))
        if since > 20_000:
            line, since = f"{line} {rng.choice(SECRETS)}", 0
        lines.append(line)
        total += len(line) + 1
        since += len(line) + 1
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def cli_rows(runs: int = 5) -> list[dict[str, object]]:
    """`lclog redact` on 100 MB of prose, from a file into a pipe: start-up, then throughput."""
    import tempfile

    print(f"\n{'lclog redact, 100 MB of prose into a pipe':40s} {'s':>11s}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "prose.txt")
        _prose_file(path)

        def wall(source: str) -> float:
            with open(source, "rb") as stdin:
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "lclog", "redact"], stdin=stdin,
                               stdout=subprocess.PIPE, check=True)  # fmt: skip
                return time.perf_counter() - start

        startup = statistics.median(wall(os.devnull) for _ in range(runs))
        total = statistics.median(wall(path) for _ in range(runs))
    rate = 100.0 / max(total - startup, 1e-9)
    print(f"{'start-up (empty input)':40s} {startup:11.2f}")
    print(f"{'whole run':40s} {total:11.2f}")
    print(f"{'throughput after start-up, MB/s':40s} {rate:11.1f}")
    return [{"text": "cli redact 100 MB", "startup_s": round(startup, 3), "total_s": round(total, 3),
             "mb_s_after_startup": round(rate, 1)}]  # fmt: skip


if __name__ == "__main__":
    main()
