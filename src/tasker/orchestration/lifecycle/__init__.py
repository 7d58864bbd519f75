"""Lifecycle of a task: initialize, enqueue ready steps, process step results, finalize."""
