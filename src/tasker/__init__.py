"""Reference workflow engine: the default system under test."""
