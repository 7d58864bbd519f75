-- tasker_process_next_result(processor, kind): the orchestrator's hand-off for one step result. Pop the oldest
-- visible result message (SKIP LOCKED), lock its task row, record the outcome on the step: complete with its
-- results on success; otherwise waiting_for_retry with the template's backoff while the step is retryable with
-- attempts left, else error (the rule stated in Python by result_processor.decide_outcome; tests/engine/
-- test_rules.py runs one table of cases against both). Then enqueue the steps that became ready or, with nothing
-- in flight, settle the task. No row when the queue is empty; outcome NULL when nobody waits for the result (its
-- step is not in flight, e.g. a duplicate after a redelivery, or its task or step is gone).
-- Caller: result_processor.process_next_result.
--
-- One of the orchestrator's hand-off functions: each hand-off is a single statement (one round trip, one commit)
-- instead of a transaction of several client statements, whose Python cost exceeded the database work they carried.
-- No SET clause: tasker_finalize_task's set_config('synchronous_commit', 'on', true) must outlive the call that
-- reaches it, and a SET clause on a function of that call path would undo it on return. The engine's sessions turn
-- sequential scans and JIT off themselves (tasker.db).
CREATE OR REPLACE FUNCTION tasker_process_next_result(p_processor_uuid uuid, p_kind text DEFAULT 'step_result')
RETURNS TABLE (task_uuid uuid, step_uuid uuid, outcome text, enqueued text[], execution_status text, new_state text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_msg jsonb;
    v_success boolean;
    r record;
    e record;
    f record;
BEGIN
    DELETE FROM orchestration_queue_messages q
    WHERE q.msg_id = (
        SELECT m.msg_id FROM orchestration_queue_messages m
        WHERE m.kind = p_kind AND m.vt <= clock_timestamp()
        ORDER BY m.msg_id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING q.message INTO v_msg;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    task_uuid := (v_msg->>'task_uuid')::uuid;
    step_uuid := (v_msg->>'step_uuid')::uuid;
    SELECT ns.name AS namespace, tt.to_state AS task_state, st.to_state AS step_state,
           ws.attempts, ws.max_attempts, ws.retryable, ws.inputs
    INTO r
    FROM tasks t
    JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
    JOIN task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid
    JOIN task_transitions tt ON tt.task_uuid = t.task_uuid AND tt.most_recent
    JOIN workflow_steps ws ON ws.task_uuid = t.task_uuid
    JOIN workflow_step_transitions st ON st.workflow_step_uuid = ws.workflow_step_uuid AND st.most_recent
    WHERE t.task_uuid = (v_msg->>'task_uuid')::uuid AND ws.workflow_step_uuid = (v_msg->>'step_uuid')::uuid
    FOR UPDATE OF t;
    IF NOT FOUND OR r.step_state NOT IN ('enqueued', 'in_progress', 'enqueued_for_orchestration',
                                         'enqueued_as_error_for_orchestration') THEN
        RETURN NEXT;  -- outcome NULL: nobody waits for this result
        RETURN;
    END IF;
    v_success := v_msg->>'status' = 'success';
    outcome := CASE WHEN v_success THEN 'complete'
                    WHEN r.retryable AND r.attempts < r.max_attempts THEN 'waiting_for_retry'
                    ELSE 'error' END;
    UPDATE workflow_steps ws
    SET results = CASE WHEN v_success THEN coalesce(v_msg->'result', 'null'::jsonb)
                       ELSE jsonb_build_object('error', v_msg->'error', 'attempt', r.attempts) END,
        processed = v_success,
        processed_at = CASE WHEN v_success THEN now() END,
        in_process = false,
        backoff_request_seconds = CASE WHEN outcome = 'waiting_for_retry'
                                       THEN (r.inputs->>'backoff_seconds')::integer END,
        updated_at = now()
    WHERE ws.workflow_step_uuid = step_uuid;
    PERFORM tasker_transition_step(
        step_uuid, outcome, jsonb_build_object('attempts', r.attempts, 'processor_uuid', p_processor_uuid::text));
    SELECT * INTO e FROM tasker_enqueue_ready_steps(task_uuid, r.namespace, r.task_state, p_processor_uuid);
    enqueued := e.enqueued;
    IF cardinality(e.enqueued) = 0 AND NOT e.in_flight THEN
        SELECT * INTO f FROM tasker_finalize_task(task_uuid, r.task_state, e.retry_waiting, p_processor_uuid);
        execution_status := f.execution_status;
        new_state := f.new_state;
    END IF;
    RETURN NEXT;
END;
$$;
