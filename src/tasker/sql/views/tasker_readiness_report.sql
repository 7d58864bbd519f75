-- tasker_readiness_report: every step's readiness with its parent counts, the full REFERENCE.md report.
-- Read by get_step_readiness_status only (itself read by GET /v1/tasks/{uuid} and the harness's SQL bench).
-- The engine's own "is it ready" questions read the cheaper tasker_readiness_flags or tasker_ready_step_keys, which
-- state the same rules without counting every parent of every step; tests/engine/test_sql_functions.py pins the
-- three views to each other on a mixed-state dataset.
--
-- Rules: dependencies are satisfied when every parent is complete or resolved_manually; a step is retry eligible
-- when it has never run or is retryable with attempts left; its next retry is its last attempt plus the requested
-- backoff, else plus 2^attempts seconds capped at 60; it is ready for execution when pending or waiting_for_retry,
-- not in process, dependencies satisfied, retry eligible and past its next retry.
-- A plain view: a filter on task_uuid is pushed down to the workflow_steps index.
CREATE OR REPLACE VIEW tasker_readiness_report AS
SELECT s.workflow_step_uuid, s.task_uuid, s.named_step_uuid, s.name, s.current_state,
       s.total_parents = s.completed_parents AS dependencies_satisfied,
       s.retry_eligible,
       s.current_state IN ('pending', 'waiting_for_retry')
           AND NOT s.in_process
           AND s.total_parents = s.completed_parents
           AND s.retry_eligible
           AND (s.next_retry_at IS NULL OR s.next_retry_at <= now()) AS ready_for_execution,
       s.last_attempted_at, s.next_retry_at, s.total_parents, s.completed_parents,
       s.attempts, s.max_attempts, s.backoff_request_seconds, s.retryable, s.in_process
FROM (
    SELECT ws.workflow_step_uuid, ws.task_uuid, ws.named_step_uuid, nst.name, st.to_state AS current_state,
           (ws.attempts = 0 OR (ws.retryable AND ws.attempts < ws.max_attempts)) AS retry_eligible,
           ws.last_attempted_at,
           CASE WHEN ws.last_attempted_at IS NULL THEN NULL
                WHEN ws.backoff_request_seconds IS NOT NULL
                    THEN ws.last_attempted_at + make_interval(secs => ws.backoff_request_seconds)
                ELSE ws.last_attempted_at + make_interval(secs => least(power(2, ws.attempts), 60))
           END AS next_retry_at,
           coalesce(p.total, 0)::integer AS total_parents,
           coalesce(p.completed, 0)::integer AS completed_parents,
           ws.attempts, ws.max_attempts, ws.backoff_request_seconds, ws.retryable, ws.in_process
    FROM workflow_steps ws
    LEFT JOIN named_steps nst ON nst.named_step_uuid = ws.named_step_uuid  -- LEFT: removable when name is unused
    JOIN workflow_step_transitions st ON st.workflow_step_uuid = ws.workflow_step_uuid AND st.most_recent
    LEFT JOIN LATERAL (
        SELECT count(*) AS total,
               count(*) FILTER (WHERE pst.to_state IN ('complete', 'resolved_manually')) AS completed
        FROM workflow_step_edges e
        JOIN workflow_step_transitions pst ON pst.workflow_step_uuid = e.from_step_uuid AND pst.most_recent
        WHERE e.to_step_uuid = ws.workflow_step_uuid
    ) p ON true
) s;
