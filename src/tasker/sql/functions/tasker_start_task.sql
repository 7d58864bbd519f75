-- tasker_start_task(task, processor): the orchestrator's hand-off for a new task (NOTIFY 'task:<uuid>'): lock the
-- task row, enqueue its ready steps (tasker_enqueue_ready_steps) or, when nothing was enqueued and nothing is in
-- flight, settle it (tasker_finalize_task). No row for an unknown task; a terminal task is left alone (enqueued
-- NULL). Caller: step_enqueuer.start_task.
--
-- One of the orchestrator's hand-off functions: each hand-off is a single statement (one round trip, one commit)
-- instead of a transaction of several client statements, whose Python cost exceeded the database work they carried.
-- No SET clause: tasker_finalize_task's set_config('synchronous_commit', 'on', true) must outlive the call that
-- reaches it, and a SET clause on a function of that call path would undo it on return. The engine's sessions turn
-- sequential scans and JIT off themselves (tasker.db).
CREATE OR REPLACE FUNCTION tasker_start_task(p_task_uuid uuid, p_processor_uuid uuid)
RETURNS TABLE (task_state text, enqueued text[], execution_status text, new_state text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t record;
    e record;
    f record;
BEGIN
    SELECT ns.name AS namespace, tt.to_state INTO t
    FROM tasks tk
    JOIN named_tasks nt ON nt.named_task_uuid = tk.named_task_uuid
    JOIN task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid
    JOIN task_transitions tt ON tt.task_uuid = tk.task_uuid AND tt.most_recent
    WHERE tk.task_uuid = p_task_uuid
    FOR UPDATE OF tk;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    task_state := t.to_state;
    IF t.to_state IN ('complete', 'error', 'blocked_by_failures', 'cancelled', 'resolved_manually') THEN
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT * INTO e FROM tasker_enqueue_ready_steps(p_task_uuid, t.namespace, t.to_state, p_processor_uuid);
    enqueued := e.enqueued;
    IF cardinality(e.enqueued) = 0 AND NOT e.in_flight THEN
        SELECT * INTO f FROM tasker_finalize_task(p_task_uuid, t.to_state, e.retry_waiting, p_processor_uuid);
        execution_status := f.execution_status;
        new_state := f.new_state;
    END IF;
    RETURN NEXT;
END;
$$;
