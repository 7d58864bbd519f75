-- tasker_transition_step(step, to, metadata): move a step to `to` unconditionally and return its previous state.
-- The caller holds the task row lock (orchestrator hand-offs) or owns the step through its queue message (worker
-- claim and submit), so no compare is needed. The first transition of a step is written by task_initializer.
CREATE OR REPLACE FUNCTION tasker_transition_step(p_step_uuid uuid, p_to_state text, p_metadata jsonb DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_sort integer;
    v_from text;
BEGIN
    UPDATE workflow_step_transitions SET most_recent = false
    WHERE workflow_step_uuid = p_step_uuid AND most_recent
    RETURNING sort_key, to_state INTO v_sort, v_from;
    INSERT INTO workflow_step_transitions (workflow_step_uuid, from_state, to_state, sort_key, most_recent, metadata)
    VALUES (p_step_uuid, v_from, p_to_state, coalesce(v_sort + 1, 0), true, coalesce(p_metadata, '{}'::jsonb));
    RETURN v_from;
END;
$$;
