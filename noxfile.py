"""The fast tier of the tests on every supported Python on this machine, from the built wheel.

    nox                   # which Pythons are here, then the fast tier on each
    nox --parallel auto   # the same, one session per CPU (`make versions`, part of `make test`)
    nox -s "tests(3.12)"  # one of them
    nox -s bench -- DIR   # benchmarks/mlp_vs_micrograd.py on each, DIR/<version>.json (make bench)

The versions and how they are found: scripts/pythons.py. An absent version is reported, not
an error. The wheel is built once per run (session ``wheel``) and each version's environment
installs it with the ``test`` extra, so the tests import the installed package: a file the
wheel leaves out fails here. Environments are kept under ``.nox/`` and reused by the next run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from importlib.util import find_spec
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "scripts"))
import pythons  # noqa: E402  (scripts/ is not a package)

WHEEL_DIR = ROOT / ".nox" / "wheel"
# Under --parallel each session's process imports this file again: it takes what the first
# import found instead of running every candidate interpreter once more.
FOUND_VAR = "CHAINRULE_PYTHONS_FOUND"
FOUND: dict[str, str | None] = json.loads(os.environ.get(FOUND_VAR, "{}")) or pythons.find_all()
os.environ[FOUND_VAR] = json.dumps(FOUND)
PRESENT = {version: path for version, path in FOUND.items() if path}

nox.options.reuse_venv = "yes"
nox.options.download_python = "never"  # only what the machine has; a download would fail here
nox.options.default_venv_backend = "uv|virtualenv"


@nox.session(python=False, name="pythons", allow_parallel=True)
def report_pythons(session: nox.Session) -> None:
    """Which supported Pythons this machine has, and which are absent (not an error)."""
    for line in pythons.report(FOUND):
        session.log(line)


@nox.session(python=False)
def wheel(session: nox.Session) -> None:
    """The wheel every test environment installs, built once per run from this checkout."""
    shutil.rmtree(WHEEL_DIR, ignore_errors=True)
    build = (["uv", "build", "--quiet", "--wheel", "--out-dir"] if find_spec("uv")  # the faster
             else ["pip", "wheel", "--quiet", "--no-deps", "--wheel-dir"])  # fmt: skip
    session.run(sys.executable, "-m", *build, str(WHEEL_DIR), str(ROOT))


@nox.session(requires=["wheel"], allow_parallel=True)
@nox.parametrize("python", list(PRESENT.values()), ids=list(PRESENT))
def tests(session: nox.Session) -> None:
    """``pytest -m "not slow"`` with chainrule installed from the wheel."""
    (built,) = WHEEL_DIR.glob("chainrule-*.whl")
    session.install(f"{built}[test]")
    session.install("--force-reinstall", "--no-deps", str(built))  # same version, new build
    env = {"CHAINRULE_TEST_WHEEL": str(built), "MPLBACKEND": "Agg"}
    session.run("python", "-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider",
                *session.posargs, env=env)  # fmt: skip


@nox.session(default=False)  # timings: one session at a time, never in parallel
@nox.parametrize("python", list(PRESENT.values()), ids=list(PRESENT))
def bench(session: nox.Session) -> None:
    """benchmarks/mlp_vs_micrograd.py --json on this Python, written to DIR/<version>.json."""
    if not session.posargs:
        session.error("usage: nox -s bench -- DIR  (a folder for one JSON file per version)")
    out = Path(session.posargs[0])
    out.mkdir(parents=True, exist_ok=True)
    session.install("micrograd==0.1.0")
    version = next(v for v, path in PRESENT.items() if path == session.python)
    printed = session.run("python", str(ROOT / "benchmarks" / "mlp_vs_micrograd.py"), "--json",
                          *session.posargs[1:], silent=True)  # fmt: skip
    (out / f"{version}.json").write_text(str(printed).strip().splitlines()[-1])
