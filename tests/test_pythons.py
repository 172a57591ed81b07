"""The supported Python versions: what the wheel claims, what the tests run on, how each is found.

scripts/pythons.py names the versions and finds their interpreters; noxfile.py runs the fast
tier on each one found, from the built wheel (``CHAINRULE_TEST_WHEEL`` names it there).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import sys
import sysconfig
from pathlib import Path

import pytest
import pythons  # scripts/pythons.py

import chainrule

ROOT = Path(__file__).resolve().parent.parent
HERE = f"{sys.version_info[0]}.{sys.version_info[1]}"
CLASSIFIER = re.compile(r"Programming Language :: Python :: (3\.\d+)$")


def _claimed(classifiers: list[str]) -> tuple[str, ...]:
    return tuple(m[1] for c in classifiers if (m := CLASSIFIER.match(c)))


def test_the_classifiers_claim_exactly_the_tested_versions() -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is new in Python 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    tested = pythons.TESTED
    assert _claimed(project["project"]["classifiers"]) == tested
    assert project["project"]["requires-python"] == f">={tested[0]}"
    assert project["tool"]["ruff"]["target-version"] == "py" + tested[0].replace(".", "")
    assert project["tool"]["mypy"]["python_version"] == tested[0]


def test_the_readme_and_installation_page_name_the_tested_versions() -> None:
    tested = pythons.TESTED
    sentence = ", ".join(tested[:-1]) + f" and {tested[-1]}"
    for page in (ROOT / "README.md", ROOT / "docs" / "installation.md"):
        named = sentence in " ".join(page.read_text().split())
        assert named, f"{page.name} does not say {sentence!r}"


@pytest.mark.skipif(not os.environ.get("CHAINRULE_TEST_WHEEL"),
                    reason="checks the wheel that noxfile.py installs")  # fmt: skip
def test_under_nox_the_tests_import_the_installed_wheel() -> None:
    package = Path(chainrule.__file__).resolve().parent
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert package == site_packages / "chainrule", f"chainrule imported from {package}"
    assert (package / "py.typed").is_file(), "the wheel leaves out py.typed"
    assert _claimed(importlib.metadata.metadata("chainrule").get_all("Classifier") or []) == (
        pythons.TESTED
    )
    assert HERE in pythons.VERSIONS


def _shim(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


@pytest.mark.skipif(sys.platform == "win32", reason="shell-script stand-ins for interpreters")
def test_an_interpreter_is_found_on_path_or_in_pyenv_and_must_report_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir, pyenv = tmp_path / "bin", tmp_path / "pyenv"
    # On PATH, a pyenv shim for a version pyenv has not selected: it fails when run.
    _shim(bin_dir / f"python{HERE}", "echo 'pyenv: command not found' >&2; exit 127")
    # In pyenv's versions folder: a broken older patch and this interpreter as the newest one.
    broken = _shim(pyenv / "versions" / f"{HERE}.0" / "bin" / f"python{HERE}", "exit 1")
    newest = pyenv / "versions" / f"{HERE}.99" / "bin" / f"python{HERE}"
    _shim(newest, f'exec "{sys.executable}" "$@"')
    # A folder that names a version its interpreter is not.
    _shim(pyenv / "versions" / "3.99.0" / "bin" / "python3.99", f'exec "{sys.executable}" "$@"')
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("PYENV_ROOT", str(pyenv))

    assert pythons.candidates(HERE) == [bin_dir / f"python{HERE}", newest, broken]
    found = pythons.find_all((HERE, "3.99"))
    assert found == {HERE: sys.executable, "3.99": None}
    lines = pythons.report(found)
    assert lines[0].startswith(f"Python {HERE}") and lines[0].endswith(f": {sys.executable}")
    assert lines[1] == (f"Python 3.99 (not claimed by the classifiers): absent (no python3.99 on "
                        f"PATH, none in {pyenv / 'versions'}): not tested")  # fmt: skip
