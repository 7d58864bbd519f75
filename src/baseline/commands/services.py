"""CLI commands: services (placeholder; filled by its owner)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this family's subcommands."""
