-- One server-side function per orchestrator hand-off: each is a single statement (one round trip, one commit) for
-- the engine instead of a transaction of 4-10 client statements. Measured on the 2-core VM, the client statements
-- cost more Python CPU (orchestrator ~5 ms per linear task) than the database work they carried. The lifecycle
-- modules (step_enqueuer, result_processor, task_finalizer) call these; the semantics are those of REFERENCE.md
-- and of the Python decision functions they mirror (decide_outcome, next_task_state).
-- None of these functions has a SET clause: tasker_finalize_task's set_config('synchronous_commit', 'on', true)
-- must outlive the function call to make the commit of a terminal state synchronous (a SET clause would undo it).

-- Enqueue the ready steps of a task whose row the caller has locked: `enqueued` transitions, queue messages, one
-- NOTIFY on the namespace channel, the task to steps_in_process if needed. Also reports whether anything is in
-- flight (after the enqueue) and whether a step waits for a retry: what the finalizer needs.
CREATE OR REPLACE FUNCTION tasker_enqueue_ready_steps(
    p_task_uuid uuid, p_namespace text, p_task_state text, p_processor_uuid uuid
) RETURNS TABLE (enqueued text[], in_flight boolean, retry_waiting boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_ids uuid[];
    v_names text[];
BEGIN
    SELECT coalesce(array_agg(r.workflow_step_uuid ORDER BY r.workflow_step_uuid)
                        FILTER (WHERE r.ready_for_execution), '{}'),
           coalesce(array_agg(r.name ORDER BY r.workflow_step_uuid) FILTER (WHERE r.ready_for_execution), '{}'),
           coalesce(bool_or(r.current_state IN ('enqueued', 'in_progress', 'enqueued_for_orchestration',
                                                'enqueued_as_error_for_orchestration')), false),
           coalesce(bool_or(r.current_state = 'waiting_for_retry'), false)
    INTO v_ids, v_names, in_flight, retry_waiting
    FROM get_step_readiness_status(p_task_uuid) r;
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

-- Settle a task (row locked by the caller) with nothing in flight, from get_task_execution_context: complete,
-- blocked_by_failures, or waiting_for_retry / waiting_for_dependencies; NULL new_state leaves it as it is.
-- A terminal state flags the task, NOTIFYs tasker_task_completed with its uuid and commits synchronously.
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

-- The orchestrator's hand-off for a new (or re-polled) task: lock it, enqueue its ready steps, finalize it when
-- nothing can run. No row for an unknown task; a terminal task is left alone (enqueued is NULL).
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

-- The orchestrator's hand-off for one step result: pop the oldest visible result (SKIP LOCKED), lock its task,
-- record the outcome on the step (complete; waiting_for_retry with the template's backoff while attempts remain;
-- else error), then enqueue what became ready or, with nothing in flight, finalize the task. No row when the
-- queue is empty; outcome NULL when the result was ignored (its step no longer awaits one, e.g. a duplicate, or
-- its task or step is gone).
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
