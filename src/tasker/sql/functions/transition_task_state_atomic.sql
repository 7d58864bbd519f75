-- transition_task_state_atomic(task, from, to, processor, metadata): compare-and-swap on a task's state. The new
-- transition is written only if the most recent one is in `from`; false (nothing written) otherwise, and for an
-- unknown task. Concurrent callers serialise on the transition row: one wins, the others get false.
-- Callers: the harness's SQL bench and any external tool moving a task; the engine's own hand-offs hold the task
-- row lock and use tasker_transition_task.
CREATE OR REPLACE FUNCTION transition_task_state_atomic(
    p_task_uuid uuid, p_from_state text, p_to_state text, p_processor_uuid uuid, p_metadata jsonb DEFAULT '{}'
) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_sort integer;
BEGIN
    UPDATE task_transitions SET most_recent = false
    WHERE task_uuid = p_task_uuid AND most_recent AND to_state = p_from_state
    RETURNING sort_key INTO v_sort;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO task_transitions (task_uuid, from_state, to_state, sort_key, most_recent, processor_uuid, metadata)
    VALUES (p_task_uuid, p_from_state, p_to_state, v_sort + 1, true, p_processor_uuid,
            coalesce(p_metadata, '{}'::jsonb));
    RETURN true;
END;
$$;
