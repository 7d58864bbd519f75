"""The orchestrator and its lifecycle modules."""
