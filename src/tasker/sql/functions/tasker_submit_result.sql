-- tasker_submit_result(msg, step, attempt, state, kind, message, channel): a worker's hand-off of one step result.
-- Deletes the step message; then, only if the step is still in_progress under this very claim (its most recent
-- transition is the `in_progress` row the claim of `attempt` wrote), moves it to `state`
-- (enqueued_for_orchestration or enqueued_as_error_for_orchestration), queues the result message and NOTIFYs
-- `channel`. Returns true when the result was taken, false when it was dropped: a late result of a claim that
-- another worker took over after its visibility timeout (a later attempt holds the step), or of a step already
-- handed on or finished. The compare is an UPDATE of the current transition row, so a claim and a submit racing for
-- one step serialise on that row: a late duplicate never changes a finished step.
-- Caller: Worker.submit (tasker.worker).
--
-- One of the hand-off functions: one statement, one round trip, one commit; no SET clause (the engine's sessions
-- turn sequential scans and JIT off themselves, tasker.db).
CREATE OR REPLACE FUNCTION tasker_submit_result(
    p_msg_id bigint, p_step_uuid uuid, p_attempt integer, p_state text, p_kind text, p_message jsonb, p_channel text
) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_sort integer;
BEGIN
    DELETE FROM step_queue_messages WHERE msg_id = p_msg_id;
    UPDATE workflow_step_transitions SET most_recent = false
    WHERE workflow_step_uuid = p_step_uuid AND most_recent AND to_state = 'in_progress'
      AND metadata->>'attempt' = p_attempt::text
    RETURNING sort_key INTO v_sort;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO workflow_step_transitions (workflow_step_uuid, from_state, to_state, sort_key, most_recent)
    VALUES (p_step_uuid, 'in_progress', p_state, v_sort + 1, true);
    INSERT INTO orchestration_queue_messages (kind, message) VALUES (p_kind, p_message);
    PERFORM pg_notify(p_channel, 'result');
    RETURN true;
END;
$$;
