"""Sessions: bench (placeholder module; filled by its owner)."""
