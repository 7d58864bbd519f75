"""Benchmark and profiling harness for PostgreSQL-backed workflow services."""

__version__ = "0.1.0"
