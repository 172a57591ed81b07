"""The Python versions chainrule supports, and where each one is on this machine.

``noxfile.py`` runs the fast tier of the tests under every version found here; the wheel's
classifiers in ``pyproject.toml`` name exactly ``TESTED`` (tests/test_pythons.py checks both).

An interpreter for version X.Y is looked for in two places, in this order:

1. ``pythonX.Y`` on ``PATH`` (a system Python, a virtual environment, a pyenv shim);
2. pyenv's versions folder, ``$PYENV_ROOT/versions/X.Y.*/bin/pythonX.Y`` (``PYENV_ROOT``
   defaults to ``~/.pyenv``), newest patch release first: pyenv installs every version there,
   whichever one its shims select.

Each candidate is run once and kept only if it reports that version: a pyenv shim for a version
that pyenv has not selected is on ``PATH`` but fails when run.

    python scripts/pythons.py    # prints each supported version: where it is, or absent
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

# The versions the wheel claims (its classifiers): the test command runs each of them on CI's
# machine.
TESTED = ("3.10", "3.11", "3.12", "3.13")
# Tested when present, not claimed: CI's machine has no CPython 3.14 (the docs playground runs
# chainrule on Pyodide's 3.14 in the browser tests).
ALSO_WHEN_PRESENT = ("3.14",)
VERSIONS = TESTED + ALSO_WHEN_PRESENT

PROBE = "import sys; print('%d.%d' % sys.version_info[:2], sys.executable)"
PROBE_TIMEOUT_S = 30


def pyenv_versions() -> Path:
    """pyenv's folder of installed versions: ``$PYENV_ROOT/versions``, ``~/.pyenv`` by default."""
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"


def candidates(version: str) -> list[Path]:
    """Where an interpreter for ``version`` ("3.12") may be, in the order they are tried."""
    found = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        found.append(Path(on_path))
    patches = pyenv_versions().glob(f"{version}.*/bin/python{version}")
    found += sorted(patches, key=_release, reverse=True)
    return found


def _release(path: Path) -> tuple[int, ...]:
    """(3, 12, 1) for .../versions/3.12.1/bin/python3.12; () for a name that is not a release."""
    name = path.parent.parent.name
    return tuple(int(n) for n in name.split(".")) if re.fullmatch(r"[\d.]+", name) else ()


def probe(path: Path, version: str) -> str | None:
    """The real executable behind ``path`` if running it reports ``version``, else None."""
    try:
        done = subprocess.run([str(path), "-c", PROBE], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT_S, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    reported, _, executable = done.stdout.strip().partition(" ")
    return executable if done.returncode == 0 and reported == version else None


def find(version: str) -> str | None:
    """An interpreter for ``version``: the first candidate that runs and reports it."""
    for path in candidates(version):
        executable = probe(path, version)
        if executable:
            return executable
    return None


def find_all(versions: tuple[str, ...] = VERSIONS) -> dict[str, str | None]:
    """Each version mapped to its interpreter, or to None when it is absent."""
    return {version: find(version) for version in versions}


def report(found: dict[str, str | None]) -> list[str]:
    """One line per version: the interpreter that will be tested, or why it is absent."""
    lines = []
    for version, executable in found.items():
        where = executable or (
            f"absent (no python{version} on PATH, none in {pyenv_versions()}): not tested"
        )
        claim = "" if version in TESTED else " (not claimed by the classifiers)"
        lines.append(f"Python {version}{claim}: {where}")
    return lines


def main() -> None:
    print("\n".join(report(find_all())))


if __name__ == "__main__":
    main()
