"""LangChain's and LangGraph's own tests, run with lclog instrumented: lclog must change nothing.

    python tests/upstream/run.py [--suite core|langgraph] [--workdir DIR]

In a virtualenv of its own (`DIR/venv`: lclog with its test extra, and what the upstream tests
import, `requirements.txt` here), fetches the sdist of the langchain-core and langgraph releases
installed there from PyPI, and runs the chosen tests with `lclog.instrument()`
active for the whole session (`lclog_active.py`). A test that fails is run again without lclog:
if it passes there, lclog changed what LangChain or another handler sees, and this script exits 1.
Tests listed in `EXPECTED` (below) assert the exact list of attached handlers, which an added
handler changes by definition; they are reported, never counted as failures.

It also fails when lclog did not log the runs (nothing written) or lost or failed on any of them
(its `handler.stats` counters), so a green run shows lclog was active and whole.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Suite:
    distribution: str  # the PyPI name of the release whose sdist holds the tests
    paths: tuple[str, ...]  # inside the unpacked sdist
    env: tuple[tuple[str, str], ...] = ()
    args: tuple[str, ...] = ()  # the project's own pytest options (its Makefile's)


SUITES = {
    "core": Suite(
        "langchain-core",
        (
            "tests/unit_tests/callbacks",
            "tests/unit_tests/runnables",
            "tests/unit_tests/tracers",
            "tests/unit_tests/language_models",
            "tests/unit_tests/test_tools.py",
            "tests/unit_tests/test_retrievers.py",
        ),
        args=("--disable-socket", "--allow-unix-socket"),  # as langchain-core's `make test`
    ),
    # Only the in-process checkpointers: NO_DOCKER leaves out Postgres and Redis.
    "langgraph": Suite(
        "langgraph",
        ("tests/test_pregel.py", "tests/test_pregel_async.py"),
        (("NO_DOCKER", "true"),),
    ),
}

# Tests that fail with any handler added process-wide, and why.
EXPECTED = {
    "tests/unit_tests/runnables/test_config.py::test_merge_config_callbacks": (
        "asserts the exact handlers of a merged config; instrument() adds one by design"
    ),
}

# Counters that must stay 0 over a whole upstream suite.
MUST_BE_ZERO = (
    "dropped",
    "internal_errors",
    "processor_errors",
    "output_errors",
    "redaction_errors",
    "evicted_runs",
)


def unpack_sdist(distribution: str, workdir: Path) -> Path:
    """Downloads and unpacks the sdist of the installed version; returns its folder."""
    version = importlib.metadata.version(distribution)
    folder = workdir / f"{distribution.replace('-', '_')}-{version}"
    if folder.is_dir():
        return folder
    download = workdir / "sdists"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         "--dest", str(download), f"{distribution}=={version}"],
        check=True,
    )  # fmt: skip
    stem = f"{distribution.replace('-', '_')}-{version}"
    archive = next(p for p in download.iterdir() if p.name.lower().startswith(stem.lower()))
    with tarfile.open(archive) as tar:
        tar.extractall(workdir, filter="data")
    unpacked = next(p for p in workdir.iterdir() if p.is_dir() and p.name.lower() == stem.lower())
    if unpacked != folder:
        unpacked.rename(folder)
    return folder


def pytest(folder: Path, args: list[str], env: dict[str, str]) -> int:
    command = [sys.executable, "-m", "pytest", "-q", "--tb=short", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=folder, env=env).returncode


def failures(report: Path, folder: Path) -> list[str]:
    """Node ids of the failed or erroring tests in a JUnit XML report."""
    failed = []
    for case in ET.parse(report).iter("testcase"):
        if case.find("failure") is None and case.find("error") is None:
            continue
        parts = case.get("classname", "").split(".")
        # The module is the longest prefix that is a file; what follows are test classes.
        for cut in range(len(parts), 0, -1):
            module = "/".join(parts[:cut]) + ".py"
            if (folder / module).is_file():
                failed.append("::".join([module, *parts[cut:], case.get("name", "")]))
                break
    return failed


def lclog_counters(directory: Path) -> dict[str, int]:
    """Sums what every process's handler counted, plus the lines it wrote."""
    total: dict[str, int] = {"lines": 0, "processes": 0}
    for stats in directory.glob("stats-*.json"):
        total["processes"] += 1
        for name, value in json.loads(stats.read_text()).items():
            total[name] = total.get(name, 0) + int(value)
    for events in directory.glob("events-*.jsonl"):
        with events.open("rb") as lines:
            total["lines"] += sum(1 for _ in lines)
    return total


def run_suite(name: str, workdir: Path, workers: str) -> list[str]:
    """Runs one suite with lclog; returns what went wrong (empty: lclog changed nothing)."""
    suite = SUITES[name]
    folder = unpack_sdist(suite.distribution, workdir)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lclog-upstream-") as scratch:
        logs = Path(scratch)
        # As the projects run their own tests: no tracing to LangSmith from the environment.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGCHAIN_", "LANGSMITH_"))}
        env = env | dict(suite.env) | {"LCLOG_UPSTREAM_DIR": scratch}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
        report = logs / "report.xml"
        print(f"== {suite.distribution} {folder.name.rsplit('-', 1)[1]}: {name} tests, lclog on")
        code = pytest(folder, ["-n", workers, "-p", "lclog_active", f"--junitxml={report}",
                               *suite.args, *suite.paths], env)  # fmt: skip
        if code not in (0, 1):
            return [f"{name}: pytest exited {code} (collection or usage error)"]
        failed = failures(report, folder)
        unexpected = [test for test in failed if test not in EXPECTED]
        for test in failed:
            if test in EXPECTED:
                print(f"   expected: {test} ({EXPECTED[test]})")
        if unexpected:
            print(f"== {len(unexpected)} failed with lclog; running them again without it")
            plain = logs / "plain.xml"
            pytest(folder, ["-p", "no:randomly", f"--junitxml={plain}", *suite.args, *unexpected], env)
            still = set(failures(plain, folder))
            for test in unexpected:
                if test in still:
                    print(f"   fails without lclog too, not counted: {test}")
                else:
                    problems.append(f"{name}: passes without lclog, fails with it: {test}")
        counters = lclog_counters(logs)
        print(f"   lclog: {json.dumps(counters, sort_keys=True)}")
        if counters["lines"] == 0 or counters.get("emitted", 0) == 0:
            problems.append(f"{name}: lclog logged nothing, so it was not active")
        problems += [f"{name}: lclog counted {counters[k]} {k}" for k in MUST_BE_ZERO if counters.get(k)]
        if counters.get("delivered", 0) != counters["processes"]:
            problems.append(f"{name}: a process's flush() did not deliver everything")
    return problems


def in_own_environment(workdir: Path) -> bool:
    """True when running inside DIR/venv; else creates it if needed and re-runs this script there."""
    venv = workdir / "venv"
    if Path(sys.prefix).resolve() == venv.resolve():
        return True
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*install, "--upgrade", "pip"], check=True)
        subprocess.run([*install, "-e", f"{HERE.parent.parent}[test]", "-r",
                        str(HERE / "requirements.txt")], check=True)  # fmt: skip
    os.execv(python, [str(python), __file__, *sys.argv[1:]])
    return False  # not reached


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=sorted(SUITES), action="append")
    parser.add_argument("--workdir", type=Path, default=Path(".upstream"))
    parser.add_argument("--workers", default="2", help="pytest-xdist's -n (default 2)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    in_own_environment(args.workdir.resolve())
    problems = []
    for name in args.suite or sorted(SUITES):
        problems += run_suite(name, args.workdir.resolve(), args.workers)
    for problem in problems:
        print(f"!! {problem}")
    print("== lclog changed nothing" if not problems else f"== {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
