-- tasker_enqueue_ready_steps of 0005, reading readiness from tasker_step_ready (0004) instead of
-- get_step_readiness_status: it needs each step's state and whether it is ready, not the parent counts that
-- get_step_readiness_status reports. Measured on a live database: 0.36 ms per call instead of 0.51-0.87 ms.
-- The subquery's ORDER BY keeps the aggregates in step-uuid order, as before.
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
        FROM tasker_step_ready sr JOIN named_steps n ON n.named_step_uuid = sr.named_step_uuid
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
