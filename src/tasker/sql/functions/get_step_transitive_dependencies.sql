-- get_step_transitive_dependencies(step): every ancestor of a step, once, with its shortest distance (parents are
-- distance 1), its results and processed flag, ordered by distance then name. Caller: the worker's claim reads the
-- parents' results (distance 1) to pass to the handler. The recursion stops at distance 1000 (a guard against a
-- cyclic graph, which templates cannot produce).
--
-- Settings (SET clauses: in force during each call, restored on return):
-- - PL/pgSQL, plan_cache_mode = force_generic_plan: the session caches the body's plans, so a caller that does not
--   prepare its statements does not pay for planning on every call; a generic plan keeps that cache in use (left
--   to `auto`, PostgreSQL keeps making custom plans).
-- - enable_seqscan, enable_hashjoin, enable_mergejoin = off: every query here reads a task's handful of rows
--   through indexes; pinning that plan shape keeps a plan cached while the tables were small from scanning whole
--   tables once they have grown.
-- - jit = off: JIT pays off for long analytical queries; here it would compile the expressions of a call whenever
--   the estimated cost passes jit_above_cost, which large tables and the disabled scan types make it do.
CREATE OR REPLACE FUNCTION get_step_transitive_dependencies(p_step_uuid uuid)
RETURNS TABLE (
    workflow_step_uuid uuid,
    task_uuid uuid,
    named_step_uuid uuid,
    step_name text,
    results jsonb,
    processed boolean,
    distance integer
)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH RECURSIVE ancestors AS (
        SELECT e.from_step_uuid AS step_uuid, 1 AS distance
        FROM workflow_step_edges e
        WHERE e.to_step_uuid = p_step_uuid
        UNION ALL
        SELECT e.from_step_uuid, a.distance + 1
        FROM ancestors a
        JOIN workflow_step_edges e ON e.to_step_uuid = a.step_uuid
        WHERE a.distance < 1000
    ), nearest AS (
        SELECT a.step_uuid, min(a.distance) AS distance FROM ancestors a GROUP BY a.step_uuid
    )
    SELECT ws.workflow_step_uuid, ws.task_uuid, ws.named_step_uuid, nst.name, ws.results, ws.processed,
           n.distance
    FROM nearest n
    JOIN workflow_steps ws ON ws.workflow_step_uuid = n.step_uuid
    JOIN named_steps nst ON nst.named_step_uuid = ws.named_step_uuid
    ORDER BY n.distance, nst.name;
END;
$$;
