"""Test configuration shared by every test module."""

import os

from hypothesis import HealthCheck, settings

# A fixed, derandomized profile in CI makes a red run reproducible; locally the same
# profile keeps runs fast. HYPOTHESIS_PROFILE=thorough explores more examples.
settings.register_profile(
    "ci", derandomize=True, max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
