-- get_task_execution_context(task): a task's step counts and what should happen to it next.
-- Counts: total, pending (pending or waiting_for_retry), in progress (enqueued, in_progress or either
-- enqueued_*_for_orchestration), completed (complete or resolved_manually), failed (error), ready.
-- execution_status, first match wins: blocked_by_failures (a step in error that is not retry eligible) >
-- has_ready_steps > processing (something in progress) > all_complete > waiting_for_dependencies;
-- recommended_action follows it; completion_percentage = completed / total; health_status blocked / recovering (a
-- step in error that may still be retried) / healthy.
-- Callers: tasker_finalize_task (the settle rule), GET /v1/tasks/{uuid}, the harness's SQL bench. It reads
-- views/tasker_readiness_flags.sql: it needs each step's state and ready flag, not parent counts.
--
-- Settings (SET clauses: in force during each call, restored on return):
-- - PL/pgSQL, plan_cache_mode = force_generic_plan: the session caches the body's plans, so a caller that does not
--   prepare its statements does not pay for planning on every call; a generic plan keeps that cache in use (left
--   to `auto`, PostgreSQL keeps making custom plans).
-- - enable_seqscan, enable_hashjoin, enable_mergejoin = off, enable_bitmapscan = off (plain index scans, no bitmap
--   built first for a few rows): every query here reads a task's handful of rows
--   through indexes; pinning that plan shape keeps a plan cached while the tables were small from scanning whole
--   tables once they have grown.
-- - jit = off: JIT pays off for long analytical queries; here it would compile the expressions of a call whenever
--   the estimated cost passes jit_above_cost, which large tables and the disabled scan types make it do.
CREATE OR REPLACE FUNCTION get_task_execution_context(p_task_uuid uuid)
RETURNS TABLE (
    task_uuid uuid,
    named_task_uuid uuid,
    status text,
    total_steps integer,
    pending_steps integer,
    in_progress_steps integer,
    completed_steps integer,
    failed_steps integer,
    ready_steps integer,
    execution_status text,
    recommended_action text,
    completion_percentage numeric,
    health_status text
)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET enable_bitmapscan = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH counts AS (
        SELECT count(*)::integer AS total,
               count(*) FILTER (WHERE r.current_state IN ('pending', 'waiting_for_retry'))::integer AS pending,
               count(*) FILTER (WHERE r.current_state IN ('enqueued', 'in_progress', 'enqueued_for_orchestration',
                                                          'enqueued_as_error_for_orchestration'))::integer
                   AS in_progress,
               count(*) FILTER (WHERE r.current_state IN ('complete', 'resolved_manually'))::integer AS completed,
               count(*) FILTER (WHERE r.current_state = 'error')::integer AS failed,
               count(*) FILTER (WHERE r.current_state = 'error' AND NOT r.retry_eligible)::integer AS blocked,
               count(*) FILTER (WHERE r.ready_for_execution)::integer AS ready
        FROM tasker_readiness_flags r WHERE r.task_uuid = p_task_uuid
    ), status AS (
        SELECT c.*,
               CASE WHEN c.blocked > 0 THEN 'blocked_by_failures'
                    WHEN c.ready > 0 THEN 'has_ready_steps'
                    WHEN c.in_progress > 0 THEN 'processing'
                    WHEN c.completed = c.total AND c.total > 0 THEN 'all_complete'
                    ELSE 'waiting_for_dependencies'
               END AS execution_status
        FROM counts c
    )
    SELECT t.task_uuid, t.named_task_uuid, tt.to_state,
           s.total, s.pending, s.in_progress, s.completed, s.failed, s.ready,
           s.execution_status,
           CASE s.execution_status
                WHEN 'blocked_by_failures' THEN 'handle_failures'
                WHEN 'has_ready_steps' THEN 'execute_ready_steps'
                WHEN 'processing' THEN 'wait_for_completion'
                WHEN 'all_complete' THEN 'finalize_task'
                ELSE 'wait_for_dependencies'
           END,
           CASE WHEN s.total = 0 THEN 0.0 ELSE round(100.0 * s.completed / s.total, 2) END,
           CASE WHEN s.blocked > 0 THEN 'blocked'
                WHEN s.failed > 0 THEN 'recovering'
                ELSE 'healthy'
           END
    FROM tasks t
    JOIN task_transitions tt ON tt.task_uuid = t.task_uuid AND tt.most_recent
    CROSS JOIN status s
    WHERE t.task_uuid = p_task_uuid;
END;
$$;
