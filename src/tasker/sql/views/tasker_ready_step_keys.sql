-- tasker_ready_step_keys: the (step, task) keys of the steps ready for execution, and nothing else.
-- Read by get_next_ready_tasks, which counts a candidate task's ready steps through it.
--
-- The ready_for_execution rule of tasker_readiness_flags written as one filter the planner can order cheapest
-- first: the step's own columns (not processed, not in process, retry eligible, backoff elapsed), then the lookup
-- of its state, then its parents'. A step that cannot be ready by its own columns (most steps of a large dataset)
-- then costs no probe of the transition indexes. A processed step is complete (only a successful result sets
-- processed), so skipping processed steps skips no ready one.
CREATE OR REPLACE VIEW tasker_ready_step_keys AS
SELECT ws.workflow_step_uuid, ws.task_uuid
FROM workflow_steps ws
WHERE NOT ws.processed
  AND NOT ws.in_process
  AND (ws.attempts = 0 OR (ws.retryable AND ws.attempts < ws.max_attempts))
  AND (ws.last_attempted_at IS NULL
       OR CASE WHEN ws.backoff_request_seconds IS NOT NULL
                   THEN ws.last_attempted_at + make_interval(secs => ws.backoff_request_seconds)
               ELSE ws.last_attempted_at + make_interval(secs => least(power(2, ws.attempts), 60))
          END <= now())
  AND EXISTS (SELECT 1 FROM workflow_step_transitions st
              WHERE st.workflow_step_uuid = ws.workflow_step_uuid AND st.most_recent
                AND st.to_state IN ('pending', 'waiting_for_retry'))
  AND NOT EXISTS (SELECT 1 FROM workflow_step_edges e
                  JOIN workflow_step_transitions pst ON pst.workflow_step_uuid = e.from_step_uuid AND pst.most_recent
                  WHERE e.to_step_uuid = ws.workflow_step_uuid AND pst.to_state NOT IN ('complete', 'resolved_manually'));
