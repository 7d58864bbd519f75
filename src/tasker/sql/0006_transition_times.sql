-- A transition's time is when its row was written, not when its transaction began: a process that pops a
-- message inside a transaction opened earlier would otherwise stamp the step's next state before the previous
-- one, and per-hand-off latencies read from the transitions would come out zero or negative.
ALTER TABLE task_transitions ALTER COLUMN created_at SET DEFAULT clock_timestamp();
ALTER TABLE workflow_step_transitions ALTER COLUMN created_at SET DEFAULT clock_timestamp();
