"""Suite-wide settings. Under CI, property tests are derandomized (the same examples every run, so a
landing never depends on luck) and have no per-example deadline (a loaded machine is not a bug); locally
they explore new examples each run."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
