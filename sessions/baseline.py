"""Sessions: baseline (placeholder module; filled by its owner)."""
