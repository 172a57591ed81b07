"""Test configuration shared by every test module."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
# A hang fails instead of stalling CI; the build (which executes the notebooks) takes a minute.
SITE_BUILD_TIMEOUT_S = 600

# A fixed, derandomized profile in CI makes a red run reproducible; locally the same
# profile keeps runs fast. HYPOTHESIS_PROFILE=thorough explores more examples.
settings.register_profile(
    "ci", derandomize=True, max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation site, built once per test run with ``mkdocs build --strict``.

    Shared by the static checks (tests/test_docs.py) and the browser test (tests/test_site.py).
    The build executes the tutorial notebooks (scripts/mkdocs_hooks.py). Skipped only when
    mkdocs is not installed; a missing plugin or MathJax (``npm ci``) is a failure.
    CHAINRULE_BUILT_SITE=<dir> checks a site built beforehand instead (while editing styles).
    """
    prebuilt = os.environ.get("CHAINRULE_BUILT_SITE")
    if prebuilt:
        return Path(prebuilt)
    pytest.importorskip("mkdocs", reason="the docs extra (mkdocs) is not installed")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "MPLBACKEND": "Agg", "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml")]
    result = subprocess.run(
        [*command, "-d", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SITE_BUILD_TIMEOUT_S,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-6000:]}"
    return out
