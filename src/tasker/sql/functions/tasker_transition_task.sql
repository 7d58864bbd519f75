-- tasker_transition_task(task, to, processor, metadata): move a task to `to` unconditionally (the caller holds the
-- task row lock) and return its previous state. Callers: tasker_enqueue_ready_steps (to steps_in_process) and
-- tasker_finalize_task (settled states). The first transition of a task is written by task_initializer.
CREATE OR REPLACE FUNCTION tasker_transition_task(
    p_task_uuid uuid, p_to_state text, p_processor_uuid uuid DEFAULT NULL, p_metadata jsonb DEFAULT '{}'
) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_sort integer;
    v_from text;
BEGIN
    UPDATE task_transitions SET most_recent = false
    WHERE task_uuid = p_task_uuid AND most_recent
    RETURNING sort_key, to_state INTO v_sort, v_from;
    INSERT INTO task_transitions (task_uuid, from_state, to_state, sort_key, most_recent, processor_uuid, metadata)
    VALUES (p_task_uuid, v_from, p_to_state, coalesce(v_sort + 1, 0), true, p_processor_uuid,
            coalesce(p_metadata, '{}'::jsonb));
    RETURN v_from;
END;
$$;
