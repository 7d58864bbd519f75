"""Service launchers: embedded PostgreSQL, supervised engine processes, compose, external."""
