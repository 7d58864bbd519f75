-- get_step_readiness_status(task, steps default all): the readiness of every step of a task, or of the given
-- steps, ordered by step uuid: state, dependencies_satisfied, retry_eligible, next_retry_at, ready_for_execution,
-- parent counts, attempts (the rules are those of views/tasker_readiness_report.sql, which it reads).
-- Callers: GET /v1/tasks/{uuid} (tasker.api) and the harness's SQL bench. The engine's own hand-offs ask only "is
-- it ready" and read the cheaper views (tasker_readiness_flags, tasker_ready_step_keys).
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
CREATE OR REPLACE FUNCTION get_step_readiness_status(p_task_uuid uuid, p_step_uuids uuid[] DEFAULT NULL)
RETURNS TABLE (
    workflow_step_uuid uuid,
    task_uuid uuid,
    named_step_uuid uuid,
    name text,
    current_state text,
    dependencies_satisfied boolean,
    retry_eligible boolean,
    ready_for_execution boolean,
    last_attempted_at timestamptz,
    next_retry_at timestamptz,
    total_parents integer,
    completed_parents integer,
    attempts integer,
    max_attempts integer,
    backoff_request_seconds integer,
    retryable boolean,
    in_process boolean
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
    SELECT r.workflow_step_uuid, r.task_uuid, r.named_step_uuid, r.name, r.current_state, r.dependencies_satisfied,
           r.retry_eligible, r.ready_for_execution, r.last_attempted_at, r.next_retry_at, r.total_parents,
           r.completed_parents, r.attempts, r.max_attempts, r.backoff_request_seconds, r.retryable, r.in_process
    FROM tasker_readiness_report r
    WHERE r.task_uuid = p_task_uuid
      AND (p_step_uuids IS NULL OR r.workflow_step_uuid = ANY (p_step_uuids))
    ORDER BY r.workflow_step_uuid;
END;
$$;
