-- get_next_ready_tasks(limit default 5): the tasks that can make progress, best first, each locked FOR UPDATE SKIP
-- LOCKED so concurrent orchestrators never pick the same task. A task qualifies in pending (always),
-- waiting_for_dependencies or waiting_for_retry with at least one ready step. Order: computed_priority = priority
-- plus an age bonus of one point per minute waited, at most 10, ties to the oldest.
-- Callers: the orchestrator's safety-net poll (tasks whose retry backoff elapsed, missed notifications, a backlog)
-- and the harness's SQL bench.
--
-- How it stays cheap on a large table of tasks:
-- - The bonus is saturated for tasks older than 10 minutes, so among those the order is exactly the index order
--   (priority DESC, created_at) of tasks_incomplete_idx: the executor walks it lazily and checks readiness only
--   until `limit` rows qualify. Younger tasks are few (tasks_incomplete_created_idx) and sorted directly. The best
--   `limit` of each group are merged.
-- - A candidate's state is one probe of the most_recent index (the OFFSET 0 subquery keeps the planner from
--   probing the state index three times, once per qualifying state); its ready steps are counted through
--   views/tasker_ready_step_keys.sql, which tests a step's own columns before looking up any transition.
-- - The first `limit` candidates are locked in one statement; only if another transaction holds some of them are
--   the remaining candidates tried one by one.
--
-- Settings (SET clauses: in force during each call, restored on return):
-- - PL/pgSQL, plan_cache_mode = force_generic_plan: the session caches the body's plans, so a caller that does not
--   prepare its statements does not pay for planning on every call; a generic plan keeps that cache in use (left
--   to `auto`, PostgreSQL keeps making custom plans).
-- - enable_seqscan, enable_hashjoin, enable_mergejoin = off, enable_bitmapscan = off (plain index scans, no bitmap
--   built first for a few rows): every query here reads a task's handful of rows
--   through indexes; pinning that plan shape keeps a plan cached while the tables were small from scanning whole
--   tables once they have grown.
-- - jit = off: JIT pays off for long analytical queries; here it would compile the expressions of a call whenever
--   the estimated cost passes jit_above_cost, which large tables and the disabled scan types make it do.
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
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET enable_bitmapscan = off
SET jit = off
AS $$
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
                SELECT count(*) AS ready FROM tasker_ready_step_keys sr WHERE sr.task_uuid = t.task_uuid
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
                SELECT count(*) AS ready FROM tasker_ready_step_keys sr WHERE sr.task_uuid = t.task_uuid
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
