"""Sessions: profiling (placeholder module; filled by its owner)."""
