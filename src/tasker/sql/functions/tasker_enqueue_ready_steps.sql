-- tasker_enqueue_ready_steps(task, namespace, task state, processor): publish a task's ready steps. The caller has
-- locked the task row. Each ready step gets its `enqueued` transition and a message in step_queue_messages, in
-- step-uuid order; the task moves to steps_in_process if it is not there yet; one NOTIFY on tasker_steps_<namespace>
-- (delivered at commit, so no worker sees a message for a step not yet enqueued). Returns the enqueued step names,
-- whether any step is in flight after the enqueue, and whether a step waits for a retry: what the finalizer needs.
-- Callers: tasker_start_task, tasker_process_next_result, and the orchestrator's poll (step_enqueuer).
-- It reads views/tasker_readiness_flags.sql (each step's state and ready flag; no parent counts). The subquery's
-- ORDER BY keeps the aggregates in step-uuid order without a sort inside each aggregate.
--
-- One of the orchestrator's hand-off functions: each hand-off is a single statement (one round trip, one commit)
-- instead of a transaction of several client statements, whose Python cost exceeded the database work they carried.
-- Like the others it has no SET clause; the engine's sessions turn sequential scans and JIT off themselves
-- (tasker.db).
CREATE OR REPLACE FUNCTION tasker_enqueue_ready_steps(
    p_task_uuid uuid, p_namespace text, p_task_state text, p_processor_uuid uuid
) RETURNS TABLE (enqueued text[], in_flight boolean, retry_waiting boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_ids uuid[];
    v_names text[];
BEGIN
    SELECT coalesce(array_agg(r.workflow_step_uuid) FILTER (WHERE r.ready_for_execution), '{}'),
           coalesce(array_agg(r.name) FILTER (WHERE r.ready_for_execution), '{}'),
           coalesce(bool_or(r.current_state IN ('enqueued', 'in_progress', 'enqueued_for_orchestration',
                                                'enqueued_as_error_for_orchestration')), false),
           coalesce(bool_or(r.current_state = 'waiting_for_retry'), false)
    INTO v_ids, v_names, in_flight, retry_waiting
    FROM (
        SELECT sr.workflow_step_uuid, sr.ready_for_execution, sr.current_state, n.name
        FROM tasker_readiness_flags sr JOIN named_steps n ON n.named_step_uuid = sr.named_step_uuid
        WHERE sr.task_uuid = p_task_uuid
        ORDER BY sr.workflow_step_uuid
    ) r;
    enqueued := v_names;
    IF cardinality(v_ids) > 0 THEN
        PERFORM tasker_transition_step(u.id, 'enqueued') FROM unnest(v_ids) AS u(id);
        INSERT INTO step_queue_messages (namespace, message)
        SELECT p_namespace, jsonb_build_object('task_uuid', p_task_uuid::text, 'step_uuid', u.id, 'step_name', u.name)
        FROM unnest(v_ids, v_names) WITH ORDINALITY AS u(id, name, n)
        ORDER BY u.n;
        IF p_task_state IS DISTINCT FROM 'steps_in_process' THEN
            PERFORM tasker_transition_task(p_task_uuid, 'steps_in_process', p_processor_uuid);
        END IF;
        PERFORM pg_notify('tasker_steps_' || p_namespace, p_task_uuid::text);
        in_flight := true;
    END IF;
    RETURN NEXT;
END;
$$;
