-- tasker_readiness_flags: every step's state, retry eligibility and ready_for_execution, without parent counts.
-- Read by get_task_execution_context (its step counts and ready count) and tasker_enqueue_ready_steps (which steps
-- to enqueue, whether any is in flight or waiting for a retry): they ask "is it ready", not "how many parents".
--
-- Same rules as tasker_readiness_report. The dependency test is a NOT EXISTS that runs only for steps already
-- pending or waiting_for_retry, not in process, retry eligible and past their backoff (the CASE keeps the planner
-- from pushing it below the state lookup), and it stops at the first unfinished parent instead of counting every
-- parent of every step.
CREATE OR REPLACE VIEW tasker_readiness_flags AS
SELECT s.*,
       CASE WHEN s.current_state IN ('pending', 'waiting_for_retry')
                 AND NOT s.in_process
                 AND s.retry_eligible
                 AND (s.next_retry_at IS NULL OR s.next_retry_at <= now())
            THEN NOT EXISTS (
                SELECT 1 FROM workflow_step_edges e
                JOIN workflow_step_transitions pst ON pst.workflow_step_uuid = e.from_step_uuid AND pst.most_recent
                WHERE e.to_step_uuid = s.workflow_step_uuid AND pst.to_state NOT IN ('complete', 'resolved_manually'))
            ELSE false
       END AS ready_for_execution
FROM (
    SELECT ws.workflow_step_uuid, ws.task_uuid, ws.named_step_uuid, st.to_state AS current_state,
           (ws.attempts = 0 OR (ws.retryable AND ws.attempts < ws.max_attempts)) AS retry_eligible,
           ws.last_attempted_at,
           CASE WHEN ws.last_attempted_at IS NULL THEN NULL
                WHEN ws.backoff_request_seconds IS NOT NULL
                    THEN ws.last_attempted_at + make_interval(secs => ws.backoff_request_seconds)
                ELSE ws.last_attempted_at + make_interval(secs => least(power(2, ws.attempts), 60))
           END AS next_retry_at,
           ws.attempts, ws.max_attempts, ws.backoff_request_seconds, ws.retryable, ws.in_process
    FROM workflow_steps ws
    JOIN workflow_step_transitions st ON st.workflow_step_uuid = ws.workflow_step_uuid AND st.most_recent
) s;
