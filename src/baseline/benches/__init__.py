"""The four benches (sql, event, task_init, e2e): each is `run_<phase>(config, stack, extra) -> list[case]`."""
