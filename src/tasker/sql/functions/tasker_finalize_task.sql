-- tasker_finalize_task(task, current state, retry waiting, processor): settle a task that has nothing in flight
-- (row locked by the caller), from get_task_execution_context. A task already terminal stays; all_complete ->
-- complete; blocked_by_failures -> blocked_by_failures; ready or processing steps -> stays (NULL new_state);
-- otherwise waiting_for_retry when a step waits for one, else waiting_for_dependencies (the orchestrator's poll
-- picks it up again); moving to its own state is no move. The same rule is stated in Python by
-- tasker.orchestration.lifecycle.task_finalizer.next_task_state, and tests/engine/test_rules.py runs one table of
-- cases against both.
-- A terminal state (complete, blocked_by_failures) sets tasks.complete, NOTIFYs tasker_task_completed with the task
-- uuid, and makes this transaction's commit synchronous: it is what clients wait for, and flushing it flushes every
-- earlier asynchronous hand-off of the task (docs/engine.md, "Durability").
-- Callers: tasker_start_task, tasker_process_next_result.
--
-- One of the orchestrator's hand-off functions: each hand-off is a single statement (one round trip, one commit)
-- instead of a transaction of several client statements, whose Python cost exceeded the database work they carried.
-- No SET clause: tasker_finalize_task's set_config('synchronous_commit', 'on', true) must outlive the call that
-- reaches it, and a SET clause on a function of that call path would undo it on return. The engine's sessions turn
-- sequential scans and JIT off themselves (tasker.db).
CREATE OR REPLACE FUNCTION tasker_finalize_task(
    p_task_uuid uuid, p_current_state text, p_retry_waiting boolean, p_processor_uuid uuid
) RETURNS TABLE (execution_status text, new_state text, completed_steps integer, failed_steps integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    c record;
BEGIN
    SELECT x.execution_status, x.completed_steps, x.failed_steps INTO c
    FROM get_task_execution_context(p_task_uuid) x;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task % does not exist', p_task_uuid USING ERRCODE = 'no_data_found';
    END IF;
    execution_status := c.execution_status;
    completed_steps := c.completed_steps;
    failed_steps := c.failed_steps;
    new_state := CASE
        WHEN p_current_state IN ('complete', 'error', 'blocked_by_failures', 'cancelled', 'resolved_manually') THEN NULL
        WHEN c.execution_status = 'all_complete' THEN 'complete'
        WHEN c.execution_status = 'blocked_by_failures' THEN 'blocked_by_failures'
        WHEN c.execution_status IN ('has_ready_steps', 'processing') THEN NULL
        WHEN p_retry_waiting THEN 'waiting_for_retry'
        ELSE 'waiting_for_dependencies'
    END;
    IF new_state = p_current_state THEN
        new_state := NULL;
    END IF;
    IF new_state IS NOT NULL THEN
        IF new_state IN ('complete', 'blocked_by_failures') THEN
            PERFORM set_config('synchronous_commit', 'on', true);  -- what clients wait for: never lost
        END IF;
        PERFORM tasker_transition_task(
            p_task_uuid, new_state, p_processor_uuid,
            jsonb_build_object('execution_status', c.execution_status, 'completed_steps', c.completed_steps,
                               'failed_steps', c.failed_steps));
        IF new_state IN ('complete', 'blocked_by_failures') THEN
            UPDATE tasks SET complete = (new_state = 'complete'), updated_at = now() WHERE task_uuid = p_task_uuid;
            PERFORM pg_notify('tasker_task_completed', p_task_uuid::text);
        END IF;
    END IF;
    RETURN NEXT;
END;
$$;
