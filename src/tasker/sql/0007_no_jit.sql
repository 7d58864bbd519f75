-- No JIT compilation for the engine's queries. JIT pays off for long analytical queries; here it costs tens of ms
-- per call. As the tables grow, the planner's estimate for get_next_ready_tasks' candidate scan passes
-- jit_above_cost (100,000), and every call compiled its expressions: seen on a live database with ~8,000 tasks,
-- 131 ms per call, 72 ms of it JIT (30 ms without). Only the functions that already have SET clauses get one here:
-- a SET clause on a function of the durable finalize path would undo its set_config('synchronous_commit', ...)
-- on return (see docs/engine.md, "Durability"); the engine's own sessions turn JIT off themselves (tasker.db).
ALTER FUNCTION get_step_readiness_status(uuid, uuid[]) SET jit = off;
ALTER FUNCTION get_next_ready_tasks(integer) SET jit = off;
ALTER FUNCTION get_task_execution_context(uuid) SET jit = off;
ALTER FUNCTION get_step_transitive_dependencies(uuid) SET jit = off;
