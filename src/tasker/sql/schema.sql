-- The engine's tables, in their current form. `tasker migrate` applies every function file first (the key
-- defaults below call tasker_uuid7, functions/tasker_uuid7.sql), then this file, then the views.
--
-- Tasks are instances of named task templates; a task's workflow_steps form a DAG through workflow_step_edges.
-- The state of a task or step is its most_recent transition row (one per owner, enforced by a partial unique
-- index); every state change is a new row, so the transitions are also the history.
-- Results are jsonb: workflow results are JSON numbers of any size, never a fixed-width integer column.
--
-- Keys of the tables that grow with every task are time-ordered UUIDs (UUIDv7, RFC 9562): a random key sends each
-- insert to a random leaf page of every index that leads with it (primary keys, workflow_steps_task_idx, the
-- transitions' (owner, sort_key) and most_recent indexes, the edge indexes), and each such page is dirtied and,
-- once per checkpoint, written whole to the WAL; time-ordered keys make a task's inserts share the rightmost pages.
-- The API makes the task, step and first-transition keys itself (task_initializer); the column defaults serve
-- every other insert.
--
-- A transition's created_at is clock_timestamp(), when its row is written, not now(), when its transaction began:
-- a process that pops a message inside a transaction opened earlier would otherwise stamp the step's next state
-- before the previous one, and per-hand-off latencies read from the transitions would come out zero or negative.

CREATE TABLE task_namespaces (
    task_namespace_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL UNIQUE,
    description text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE named_tasks (
    named_task_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_namespace_uuid uuid NOT NULL REFERENCES task_namespaces,
    name text NOT NULL,
    version text NOT NULL DEFAULT '1.0.0',
    description text,
    configuration jsonb NOT NULL DEFAULT '{}',  -- the whole template (tasker.templates.TaskTemplate.to_json)
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (task_namespace_uuid, name, version)
);

CREATE TABLE named_steps (
    named_step_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL UNIQUE,
    description text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tasks (
    task_uuid uuid PRIMARY KEY DEFAULT tasker_uuid7(),
    named_task_uuid uuid NOT NULL REFERENCES named_tasks,
    complete boolean NOT NULL DEFAULT false,  -- set with a terminal state: true for complete only
    requested_at timestamptz NOT NULL DEFAULT now(),
    initiator text,
    source_system text,
    reason text,
    tags jsonb NOT NULL DEFAULT '[]',
    context jsonb NOT NULL DEFAULT '{}',
    priority integer NOT NULL DEFAULT 0,
    correlation_id text,
    idempotency_key text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tasks_named_task_idx ON tasks (named_task_uuid);
-- get_next_ready_tasks: tasks older than its age-bonus horizon in (priority DESC, created_at) order, walked lazily;
-- the younger ones by creation time (tasks_incomplete_idx leads with priority, so that range would be a walk over
-- every incomplete task's entry).
CREATE INDEX tasks_incomplete_idx ON tasks (priority DESC, created_at) WHERE complete = false;
CREATE INDEX tasks_incomplete_created_idx ON tasks (created_at) WHERE complete = false;

CREATE TABLE workflow_steps (
    workflow_step_uuid uuid PRIMARY KEY DEFAULT tasker_uuid7(),
    task_uuid uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
    named_step_uuid uuid NOT NULL REFERENCES named_steps,
    retryable boolean NOT NULL DEFAULT true,
    max_attempts integer NOT NULL DEFAULT 3,
    attempts integer NOT NULL DEFAULT 0,  -- incremented by each worker claim
    last_attempted_at timestamptz,
    backoff_request_seconds integer,  -- the template's backoff, set when a failed attempt will be retried
    in_process boolean NOT NULL DEFAULT false,  -- claimed by a worker, no result processed yet
    processed boolean NOT NULL DEFAULT false,  -- set only with a successful result: a processed step is complete
    processed_at timestamptz,
    inputs jsonb,  -- {"handler": ..., "backoff_seconds": ...} from the template
    results jsonb,  -- the handler's return value, or {"error": ..., "attempt": n} after a failed attempt
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflow_steps_task_idx ON workflow_steps (task_uuid);

CREATE TABLE workflow_step_edges (
    from_step_uuid uuid NOT NULL REFERENCES workflow_steps ON DELETE CASCADE,  -- the parent
    to_step_uuid uuid NOT NULL REFERENCES workflow_steps ON DELETE CASCADE,  -- the step that depends on it
    name text NOT NULL DEFAULT 'provides',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (from_step_uuid, to_step_uuid)
);
-- A step's parents, read from the index alone (index-only scan) by every readiness question.
CREATE INDEX workflow_step_edges_to_idx ON workflow_step_edges (to_step_uuid) INCLUDE (from_step_uuid);

CREATE TABLE task_transitions (
    task_transition_uuid uuid PRIMARY KEY DEFAULT tasker_uuid7(),
    task_uuid uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
    from_state text,
    to_state text NOT NULL,
    sort_key integer NOT NULL,  -- 0 for the first transition, +1 for each next one
    most_recent boolean NOT NULL DEFAULT true,
    processor_uuid uuid,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (task_uuid, sort_key)
);
-- The current state (one row per task) covering to_state: read from the index alone on settled pages (an
-- index-only scan where the visibility map marks the page all-visible) instead of the index and then the heap.
CREATE UNIQUE INDEX task_transitions_most_recent_idx ON task_transitions (task_uuid) INCLUDE (to_state)
    WHERE most_recent;
CREATE INDEX task_transitions_current_state_idx ON task_transitions (to_state, task_uuid) WHERE most_recent;

CREATE TABLE workflow_step_transitions (
    workflow_step_transition_uuid uuid PRIMARY KEY DEFAULT tasker_uuid7(),
    workflow_step_uuid uuid NOT NULL REFERENCES workflow_steps ON DELETE CASCADE,
    from_state text,
    to_state text NOT NULL,
    sort_key integer NOT NULL,
    most_recent boolean NOT NULL DEFAULT true,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (workflow_step_uuid, sort_key)
);
-- A step's current state covering to_state, as for task_transitions_most_recent_idx.
CREATE UNIQUE INDEX workflow_step_transitions_most_recent_idx ON workflow_step_transitions (workflow_step_uuid)
    INCLUDE (to_state) WHERE most_recent;

-- Queues: one table per kind, a row per message; `vt` is the visibility timeout (a claimed message is
-- invisible until vt, then visible again so a killed consumer loses nothing). A message is deleted once handled.
-- step_queue_messages: the orchestrator's enqueue -> workers (per namespace).
CREATE TABLE step_queue_messages (
    msg_id bigserial PRIMARY KEY,
    namespace text NOT NULL,
    message jsonb NOT NULL,  -- {"task_uuid", "step_uuid", "step_name"}
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    vt timestamptz NOT NULL DEFAULT clock_timestamp(),
    read_ct integer NOT NULL DEFAULT 0
);
CREATE INDEX step_queue_messages_ready_idx ON step_queue_messages (namespace, vt, msg_id);

-- orchestration_queue_messages: workers' step results -> the orchestrator (kind 'step_result').
CREATE TABLE orchestration_queue_messages (
    msg_id bigserial PRIMARY KEY,
    kind text NOT NULL,
    message jsonb NOT NULL,  -- task_uuid, step_uuid, attempt, status, result or error, worker_id
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    vt timestamptz NOT NULL DEFAULT clock_timestamp(),
    read_ct integer NOT NULL DEFAULT 0
);
CREATE INDEX orchestration_queue_messages_ready_idx ON orchestration_queue_messages (kind, vt, msg_id);

-- tasker_processes: the heartbeats of the running workers and orchestrators, read by the API's /health/ready. A
-- process is live while its heartbeat connection is open (its backend_pid is in pg_stat_activity: a killed process
-- drops out at once) and its last heartbeat is younger than its own stale_after (a hung one drops out then). A
-- process writes its row from a thread of its own, off the hot path, and beats only while its loops are alive and
-- consuming (docs/engine.md, "Health"). Rows of processes that died are deleted by the next one to register.
CREATE TABLE tasker_processes (
    process_uuid uuid PRIMARY KEY,
    role text NOT NULL CHECK (role IN ('worker', 'orchestrator')),
    namespaces text[] NOT NULL DEFAULT '{}',  -- the namespaces a worker serves
    hostname text NOT NULL,
    pid integer NOT NULL,  -- the process's own pid, on hostname
    backend_pid integer NOT NULL,  -- the heartbeat connection's backend (pg_stat_activity.pid)
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    heartbeat_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    stale_after interval NOT NULL,
    loops integer NOT NULL DEFAULT 1,  -- claim loops (workers)
    busy integer NOT NULL DEFAULT 0,  -- steps running at the last heartbeat
    completed bigint NOT NULL DEFAULT 0  -- steps (workers) or results (orchestrator) handled so far
);
