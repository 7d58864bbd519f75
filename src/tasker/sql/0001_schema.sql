-- Tasker model: templates, tasks, steps, edges, transitions (state = most recent transition row), queues.
-- Results are jsonb: workflow results are JSON numbers of any size, never a fixed-width integer column.

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
    configuration jsonb NOT NULL DEFAULT '{}',
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
    task_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    named_task_uuid uuid NOT NULL REFERENCES named_tasks,
    complete boolean NOT NULL DEFAULT false,
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
CREATE INDEX tasks_incomplete_idx ON tasks (priority DESC, created_at) WHERE complete = false;

CREATE TABLE workflow_steps (
    workflow_step_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_uuid uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
    named_step_uuid uuid NOT NULL REFERENCES named_steps,
    retryable boolean NOT NULL DEFAULT true,
    max_attempts integer NOT NULL DEFAULT 3,
    attempts integer NOT NULL DEFAULT 0,
    last_attempted_at timestamptz,
    backoff_request_seconds integer,
    in_process boolean NOT NULL DEFAULT false,
    processed boolean NOT NULL DEFAULT false,
    processed_at timestamptz,
    inputs jsonb,
    results jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflow_steps_task_idx ON workflow_steps (task_uuid);

CREATE TABLE workflow_step_edges (
    from_step_uuid uuid NOT NULL REFERENCES workflow_steps ON DELETE CASCADE,
    to_step_uuid uuid NOT NULL REFERENCES workflow_steps ON DELETE CASCADE,
    name text NOT NULL DEFAULT 'provides',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (from_step_uuid, to_step_uuid)
);
CREATE INDEX workflow_step_edges_to_idx ON workflow_step_edges (to_step_uuid);

CREATE TABLE task_transitions (
    task_transition_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_uuid uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
    from_state text,
    to_state text NOT NULL,
    sort_key integer NOT NULL,
    most_recent boolean NOT NULL DEFAULT true,
    processor_uuid uuid,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (task_uuid, sort_key)
);
CREATE UNIQUE INDEX task_transitions_most_recent_idx ON task_transitions (task_uuid) WHERE most_recent;
CREATE INDEX task_transitions_current_state_idx ON task_transitions (to_state, task_uuid) WHERE most_recent;

CREATE TABLE workflow_step_transitions (
    workflow_step_transition_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workflow_step_uuid uuid NOT NULL REFERENCES workflow_steps ON DELETE CASCADE,
    from_state text,
    to_state text NOT NULL,
    sort_key integer NOT NULL,
    most_recent boolean NOT NULL DEFAULT true,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workflow_step_uuid, sort_key)
);
CREATE UNIQUE INDEX workflow_step_transitions_most_recent_idx
    ON workflow_step_transitions (workflow_step_uuid) WHERE most_recent;

-- Queues: one table per kind, a row per message; `vt` is the visibility timeout (a claimed message is
-- invisible until vt, then visible again so a killed consumer loses nothing).
CREATE TABLE step_queue_messages (
    msg_id bigserial PRIMARY KEY,
    namespace text NOT NULL,
    message jsonb NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    vt timestamptz NOT NULL DEFAULT clock_timestamp(),
    read_ct integer NOT NULL DEFAULT 0
);
CREATE INDEX step_queue_messages_ready_idx ON step_queue_messages (namespace, vt, msg_id);

CREATE TABLE orchestration_queue_messages (
    msg_id bigserial PRIMARY KEY,
    kind text NOT NULL,
    message jsonb NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    vt timestamptz NOT NULL DEFAULT clock_timestamp(),
    read_ct integer NOT NULL DEFAULT 0
);
CREATE INDEX orchestration_queue_messages_ready_idx ON orchestration_queue_messages (kind, vt, msg_id);
