-- The five tasker SQL functions (REFERENCE.md semantics) plus two small transition helpers the services use.
-- A step or task state is its most_recent transition row.
-- PL/pgSQL rather than inlined SQL functions: the session caches their plans, so a caller that does not prepare
-- its statements does not pay ~1 ms of planning per call. force_generic_plan keeps that cache in use (left to
-- `auto`, PostgreSQL re-plans the get_next_ready_tasks query on every call: several ms on the 5k-task dataset).
-- Every query here works on one task's handful of rows through indexes, so the functions also pin that plan
-- shape (no seq scans, no hash or merge joins): a plan cached while the tables are small would otherwise keep
-- scanning whole tables as they grow (seen: 0.85 ms per readiness call after a few hundred tasks).

-- Readiness of every step, the single definition shared by get_step_readiness_status and get_next_ready_tasks.
-- A plain view: a filter on task_uuid is pushed down to the workflow_steps index.
CREATE OR REPLACE VIEW tasker_step_readiness AS
SELECT s.workflow_step_uuid, s.task_uuid, s.named_step_uuid, s.name, s.current_state,
       s.total_parents = s.completed_parents AS dependencies_satisfied,
       s.retry_eligible,
       s.current_state IN ('pending', 'waiting_for_retry')
           AND NOT s.in_process
           AND s.total_parents = s.completed_parents
           AND s.retry_eligible
           AND (s.next_retry_at IS NULL OR s.next_retry_at <= now()) AS ready_for_execution,
       s.last_attempted_at, s.next_retry_at, s.total_parents, s.completed_parents,
       s.attempts, s.max_attempts, s.backoff_request_seconds, s.retryable, s.in_process
FROM (
    SELECT ws.workflow_step_uuid, ws.task_uuid, ws.named_step_uuid, nst.name, st.to_state AS current_state,
           (ws.attempts = 0 OR (ws.retryable AND ws.attempts < ws.max_attempts)) AS retry_eligible,
           ws.last_attempted_at,
           CASE WHEN ws.last_attempted_at IS NULL THEN NULL
                WHEN ws.backoff_request_seconds IS NOT NULL
                    THEN ws.last_attempted_at + make_interval(secs => ws.backoff_request_seconds)
                ELSE ws.last_attempted_at + make_interval(secs => least(power(2, ws.attempts), 60))
           END AS next_retry_at,
           coalesce(p.total, 0)::integer AS total_parents,
           coalesce(p.completed, 0)::integer AS completed_parents,
           ws.attempts, ws.max_attempts, ws.backoff_request_seconds, ws.retryable, ws.in_process
    FROM workflow_steps ws
    LEFT JOIN named_steps nst ON nst.named_step_uuid = ws.named_step_uuid  -- LEFT: removable when name is unused
    JOIN workflow_step_transitions st ON st.workflow_step_uuid = ws.workflow_step_uuid AND st.most_recent
    LEFT JOIN LATERAL (
        SELECT count(*) AS total,
               count(*) FILTER (WHERE pst.to_state IN ('complete', 'resolved_manually')) AS completed
        FROM workflow_step_edges e
        JOIN workflow_step_transitions pst ON pst.workflow_step_uuid = e.from_step_uuid AND pst.most_recent
        WHERE e.to_step_uuid = ws.workflow_step_uuid
    ) p ON true
) s;

-- Readiness of every step of a task (or of the given steps).
CREATE OR REPLACE FUNCTION get_step_readiness_status(p_task_uuid uuid, p_step_uuids uuid[] DEFAULT NULL)
RETURNS TABLE (
    workflow_step_uuid uuid,
    task_uuid uuid,
    named_step_uuid uuid,
    name text,
    current_state text,
    dependencies_satisfied boolean,
    retry_eligible boolean,
    ready_for_execution boolean,
    last_attempted_at timestamptz,
    next_retry_at timestamptz,
    total_parents integer,
    completed_parents integer,
    attempts integer,
    max_attempts integer,
    backoff_request_seconds integer,
    retryable boolean,
    in_process boolean
)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT r.workflow_step_uuid, r.task_uuid, r.named_step_uuid, r.name, r.current_state, r.dependencies_satisfied,
           r.retry_eligible, r.ready_for_execution, r.last_attempted_at, r.next_retry_at, r.total_parents,
           r.completed_parents, r.attempts, r.max_attempts, r.backoff_request_seconds, r.retryable, r.in_process
    FROM tasker_step_readiness r
    WHERE r.task_uuid = p_task_uuid
      AND (p_step_uuids IS NULL OR r.workflow_step_uuid = ANY (p_step_uuids))
    ORDER BY r.workflow_step_uuid;
END;
$$;

-- Tasks that can make progress, by computed priority = priority + age bonus (one point per minute waited, at
-- most 10), ties to the oldest; locked FOR UPDATE SKIP LOCKED so concurrent orchestrators never pick the same task.
-- Speed: the bonus is saturated for tasks older than 10 minutes, so among those the order is exactly the index
-- order (priority DESC, created_at) of tasks_incomplete_idx and the executor walks it lazily, checking readiness
-- only until p_limit rows qualify. Younger tasks are few and sorted directly. The best p_limit of each group are
-- merged, then locked one by one (a task another transaction holds is skipped).
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
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
#variable_conflict use_column
DECLARE
    cand record;
    found_count integer := 0;
BEGIN
    IF p_limit IS NULL OR p_limit <= 0 THEN
        RETURN;
    END IF;
    FOR cand IN
        WITH saturated AS (
            SELECT t.task_uuid, t.named_task_uuid, t.priority, tt.to_state, t.created_at,
                   t.priority + 10.0::float8 AS computed_priority, r.ready
            FROM tasks t
            JOIN task_transitions tt ON tt.task_uuid = t.task_uuid AND tt.most_recent
            CROSS JOIN LATERAL (
                SELECT count(*) AS ready FROM tasker_step_readiness sr
                WHERE sr.task_uuid = t.task_uuid AND sr.ready_for_execution
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
            JOIN task_transitions tt ON tt.task_uuid = t.task_uuid AND tt.most_recent
            CROSS JOIN LATERAL (
                SELECT count(*) AS ready FROM tasker_step_readiness sr
                WHERE sr.task_uuid = t.task_uuid AND sr.ready_for_execution
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
        PERFORM 1 FROM tasks t WHERE t.task_uuid = cand.task_uuid FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        task_uuid := cand.task_uuid;
        task_name := cand.task_name;
        priority := cand.priority;
        namespace_name := cand.namespace_name;
        ready_steps_count := cand.ready;
        computed_priority := cand.computed_priority;
        current_state := cand.to_state;
        RETURN NEXT;
        found_count := found_count + 1;
        EXIT WHEN found_count >= p_limit;
    END LOOP;
END;
$$;

-- Step counts and what the orchestrator should do next with a task.
CREATE OR REPLACE FUNCTION get_task_execution_context(p_task_uuid uuid)
RETURNS TABLE (
    task_uuid uuid,
    named_task_uuid uuid,
    status text,
    total_steps integer,
    pending_steps integer,
    in_progress_steps integer,
    completed_steps integer,
    failed_steps integer,
    ready_steps integer,
    execution_status text,
    recommended_action text,
    completion_percentage numeric,
    health_status text
)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH counts AS (
        SELECT count(*)::integer AS total,
               count(*) FILTER (WHERE r.current_state IN ('pending', 'waiting_for_retry'))::integer AS pending,
               count(*) FILTER (WHERE r.current_state IN ('enqueued', 'in_progress', 'enqueued_for_orchestration',
                                                          'enqueued_as_error_for_orchestration'))::integer
                   AS in_progress,
               count(*) FILTER (WHERE r.current_state IN ('complete', 'resolved_manually'))::integer AS completed,
               count(*) FILTER (WHERE r.current_state = 'error')::integer AS failed,
               count(*) FILTER (WHERE r.current_state = 'error' AND NOT r.retry_eligible)::integer AS blocked,
               count(*) FILTER (WHERE r.ready_for_execution)::integer AS ready
        FROM tasker_step_readiness r WHERE r.task_uuid = p_task_uuid
    ), status AS (
        SELECT c.*,
               CASE WHEN c.blocked > 0 THEN 'blocked_by_failures'
                    WHEN c.ready > 0 THEN 'has_ready_steps'
                    WHEN c.in_progress > 0 THEN 'processing'
                    WHEN c.completed = c.total AND c.total > 0 THEN 'all_complete'
                    ELSE 'waiting_for_dependencies'
               END AS execution_status
        FROM counts c
    )
    SELECT t.task_uuid, t.named_task_uuid, tt.to_state,
           s.total, s.pending, s.in_progress, s.completed, s.failed, s.ready,
           s.execution_status,
           CASE s.execution_status
                WHEN 'blocked_by_failures' THEN 'handle_failures'
                WHEN 'has_ready_steps' THEN 'execute_ready_steps'
                WHEN 'processing' THEN 'wait_for_completion'
                WHEN 'all_complete' THEN 'finalize_task'
                ELSE 'wait_for_dependencies'
           END,
           CASE WHEN s.total = 0 THEN 0.0 ELSE round(100.0 * s.completed / s.total, 2) END,
           CASE WHEN s.blocked > 0 THEN 'blocked'
                WHEN s.failed > 0 THEN 'recovering'
                ELSE 'healthy'
           END
    FROM tasks t
    JOIN task_transitions tt ON tt.task_uuid = t.task_uuid AND tt.most_recent
    CROSS JOIN status s
    WHERE t.task_uuid = p_task_uuid;
END;
$$;

-- Compare-and-swap on the task's most recent transition: false when the task is not in p_from_state.
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

-- Every ancestor of a step with its shortest distance (parents are distance 1), results and processed flag.
CREATE OR REPLACE FUNCTION get_step_transitive_dependencies(p_step_uuid uuid)
RETURNS TABLE (
    workflow_step_uuid uuid,
    task_uuid uuid,
    named_step_uuid uuid,
    step_name text,
    results jsonb,
    processed boolean,
    distance integer
)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH RECURSIVE ancestors AS (
        SELECT e.from_step_uuid AS step_uuid, 1 AS distance
        FROM workflow_step_edges e
        WHERE e.to_step_uuid = p_step_uuid
        UNION ALL
        SELECT e.from_step_uuid, a.distance + 1
        FROM ancestors a
        JOIN workflow_step_edges e ON e.to_step_uuid = a.step_uuid
        WHERE a.distance < 1000
    ), nearest AS (
        SELECT a.step_uuid, min(a.distance) AS distance FROM ancestors a GROUP BY a.step_uuid
    )
    SELECT ws.workflow_step_uuid, ws.task_uuid, ws.named_step_uuid, nst.name, ws.results, ws.processed,
           n.distance
    FROM nearest n
    JOIN workflow_steps ws ON ws.workflow_step_uuid = n.step_uuid
    JOIN named_steps nst ON nst.named_step_uuid = ws.named_step_uuid
    ORDER BY n.distance, nst.name;
END;
$$;

-- Unconditional step transition (the caller holds the task row lock); returns the previous state.
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

-- Unconditional task transition; returns the previous state.
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
