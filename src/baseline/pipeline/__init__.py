"""Pipelines in one process: plan the phases of each run, run each in its own `baseline <phase>` process on a
stack this process owns, record every phase in the manifest, summarize, and show it all on one console."""
