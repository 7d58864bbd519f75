"""Target adapters: the only place that knows a system under test."""
