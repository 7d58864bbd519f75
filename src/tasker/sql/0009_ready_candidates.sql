-- get_next_ready_tasks does less work per candidate task: on the 5,000-task dataset most of its time went to index
-- probes (about 200 per call for p_limit 10), mostly of transition rows for steps that cannot be ready anyway.

-- Covering indexes: the current state of a task or step, and a step's parents, are read from the index alone (an
-- index-only scan on pages the visibility map marks all-visible, i.e. settled work) instead of the index and then
-- the heap. Every reader of current state (the readiness views and functions) uses them.
DROP INDEX task_transitions_most_recent_idx;
CREATE UNIQUE INDEX task_transitions_most_recent_idx ON task_transitions (task_uuid) INCLUDE (to_state)
    WHERE most_recent;
DROP INDEX workflow_step_transitions_most_recent_idx;
CREATE UNIQUE INDEX workflow_step_transitions_most_recent_idx ON workflow_step_transitions (workflow_step_uuid)
    INCLUDE (to_state) WHERE most_recent;
DROP INDEX workflow_step_edges_to_idx;
CREATE INDEX workflow_step_edges_to_idx ON workflow_step_edges (to_step_uuid) INCLUDE (from_step_uuid);

-- The "recent" candidates (created in the last 10 minutes) by creation time: tasks_incomplete_idx leads with
-- priority, so that range was a walk over every incomplete task's index entry.
CREATE INDEX tasks_incomplete_created_idx ON tasks (created_at) WHERE complete = false;

-- The rows of tasker_step_ready whose ready_for_execution is true, as a filter the planner can order cheapest
-- first: the step's own columns (not processed, not in process, retry eligible, backoff elapsed) before the
-- lookup of its state, and that before its parents'. A processed step is complete (result_processor sets processed
-- only on success), so skipping processed steps skips no ready one. tests/engine pins this view to
-- tasker_step_ready.ready_for_execution on every step of the test datasets.
CREATE OR REPLACE VIEW tasker_ready_steps AS
SELECT ws.workflow_step_uuid, ws.task_uuid
FROM workflow_steps ws
WHERE NOT ws.processed
  AND NOT ws.in_process
  AND (ws.attempts = 0 OR (ws.retryable AND ws.attempts < ws.max_attempts))
  AND (ws.last_attempted_at IS NULL
       OR CASE WHEN ws.backoff_request_seconds IS NOT NULL
                   THEN ws.last_attempted_at + make_interval(secs => ws.backoff_request_seconds)
               ELSE ws.last_attempted_at + make_interval(secs => least(power(2, ws.attempts), 60))
          END <= now())
  AND EXISTS (SELECT 1 FROM workflow_step_transitions st
              WHERE st.workflow_step_uuid = ws.workflow_step_uuid AND st.most_recent
                AND st.to_state IN ('pending', 'waiting_for_retry'))
  AND NOT EXISTS (SELECT 1 FROM workflow_step_edges e
                  JOIN workflow_step_transitions pst ON pst.workflow_step_uuid = e.from_step_uuid AND pst.most_recent
                  WHERE e.to_step_uuid = ws.workflow_step_uuid AND pst.to_state NOT IN ('complete', 'resolved_manually'));

-- get_next_ready_tasks of 0004 (with 0007's jit = off), counting ready steps through tasker_ready_steps.
CREATE OR REPLACE FUNCTION get_next_ready_tasks(p_limit integer DEFAULT 5)
RETURNS TABLE (
    task_uuid uuid,
    task_name text,
    priority integer,
    namespace_name text,
    ready_steps_count integer,
    computed_priority double precision,
    current_state text
)
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off
    SET enable_mergejoin = off SET enable_bitmapscan = off SET jit = off AS $$
#variable_conflict use_column
DECLARE
    cand record;
    v_ids uuid[] := '{}';
    v_names text[] := '{}';
    v_prios integer[] := '{}';
    v_namespaces text[] := '{}';
    v_ready integer[] := '{}';
    v_computed double precision[] := '{}';
    v_states text[] := '{}';
    v_locked uuid[];
    i integer;
BEGIN
    IF p_limit IS NULL OR p_limit <= 0 THEN
        RETURN;
    END IF;
    FOR cand IN
        WITH saturated AS (
            SELECT t.task_uuid, t.named_task_uuid, t.priority, tt.to_state, t.created_at,
                   t.priority + 10.0::float8 AS computed_priority, r.ready
            FROM tasks t
            CROSS JOIN LATERAL (  -- OFFSET 0: one probe of the most_recent index, not three of the state index
                SELECT tt.to_state FROM task_transitions tt WHERE tt.task_uuid = t.task_uuid AND tt.most_recent OFFSET 0
            ) tt
            CROSS JOIN LATERAL (
                SELECT count(*) AS ready FROM tasker_ready_steps sr WHERE sr.task_uuid = t.task_uuid
            ) r
            WHERE NOT t.complete AND t.created_at <= now() - interval '10 minutes'
              AND tt.to_state IN ('pending', 'waiting_for_dependencies', 'waiting_for_retry')
              AND (tt.to_state = 'pending' OR r.ready > 0)
            ORDER BY t.priority DESC, t.created_at
            LIMIT p_limit
        ), recent AS (
            SELECT t.task_uuid, t.named_task_uuid, t.priority, tt.to_state, t.created_at,
                   t.priority + date_part('epoch', now() - t.created_at) / 60.0 AS computed_priority, r.ready
            FROM tasks t
            CROSS JOIN LATERAL (  -- OFFSET 0: one probe of the most_recent index, not three of the state index
                SELECT tt.to_state FROM task_transitions tt WHERE tt.task_uuid = t.task_uuid AND tt.most_recent OFFSET 0
            ) tt
            CROSS JOIN LATERAL (
                SELECT count(*) AS ready FROM tasker_ready_steps sr WHERE sr.task_uuid = t.task_uuid
            ) r
            WHERE NOT t.complete AND t.created_at > now() - interval '10 minutes'
              AND tt.to_state IN ('pending', 'waiting_for_dependencies', 'waiting_for_retry')
              AND (tt.to_state = 'pending' OR r.ready > 0)
            ORDER BY computed_priority DESC, t.created_at
            LIMIT p_limit
        )
        SELECT c.task_uuid, nt.name AS task_name, c.priority, ns.name AS namespace_name, c.ready::integer AS ready,
               c.computed_priority, c.to_state
        FROM (SELECT * FROM saturated UNION ALL SELECT * FROM recent) c
        JOIN named_tasks nt ON nt.named_task_uuid = c.named_task_uuid
        JOIN task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid
        ORDER BY c.computed_priority DESC, c.created_at
    LOOP
        v_ids := v_ids || cand.task_uuid;
        v_names := v_names || cand.task_name;
        v_prios := v_prios || cand.priority;
        v_namespaces := v_namespaces || cand.namespace_name;
        v_ready := v_ready || cand.ready;
        v_computed := v_computed || cand.computed_priority;
        v_states := v_states || cand.to_state;
    END LOOP;
    SELECT coalesce(array_agg(x.task_uuid), '{}') INTO v_locked
    FROM (SELECT t.task_uuid FROM tasks t WHERE t.task_uuid = ANY (v_ids[1:p_limit]) FOR UPDATE SKIP LOCKED) x;
    i := p_limit + 1;
    WHILE cardinality(v_locked) < p_limit AND i <= cardinality(v_ids) LOOP
        PERFORM 1 FROM tasks t WHERE t.task_uuid = v_ids[i] FOR UPDATE SKIP LOCKED;
        IF FOUND THEN
            v_locked := v_locked || v_ids[i];
        END IF;
        i := i + 1;
    END LOOP;
    RETURN QUERY
    SELECT u.id, u.name, u.prio, u.ns, u.ready, u.computed, u.state
    FROM unnest(v_ids, v_names, v_prios, v_namespaces, v_ready, v_computed, v_states)
         WITH ORDINALITY AS u(id, name, prio, ns, ready, computed, state, n)
    WHERE u.id = ANY (v_locked)
    ORDER BY u.n
    LIMIT p_limit;
END;
$$;
