"""Thin: every session lives in a module under sessions/ (one module per phase family)."""

from __future__ import annotations

import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).parent))

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

from sessions import *  # noqa: E402,F403  (registers the sessions with nox)
