"""Sessions: services (placeholder module; filled by its owner)."""
