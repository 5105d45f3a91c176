-- Functions, their versions, jobs, job logs and idempotency keys.

CREATE TABLE functions (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    project         text NOT NULL DEFAULT 'default',
    runtime         text NOT NULL,
    execution_type  text NOT NULL DEFAULT 'sync',
    description     text NOT NULL DEFAULT '',
    environment     jsonb NOT NULL DEFAULT '{}',
    timeout_ms      integer NOT NULL,
    memory_mb       integer NOT NULL,
    max_concurrency integer NOT NULL,
    min_warm        integer NOT NULL,
    cache_ttl       integer NOT NULL,
    cache_scope     text NOT NULL DEFAULT 'caller',
    max_retries     integer NOT NULL DEFAULT 0,
    rate_limit      text,
    schema          jsonb,
    examples        jsonb NOT NULL DEFAULT '[]',
    labels          jsonb NOT NULL DEFAULT '{}',
    active_version  integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX functions_project ON functions (project);
CREATE INDEX functions_runtime ON functions (runtime);
CREATE INDEX functions_labels ON functions USING gin (labels);

CREATE TABLE function_versions (
    id            bigserial PRIMARY KEY,
    function_id   bigint NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    version       integer NOT NULL,
    runtime       text NOT NULL,
    code          text NOT NULL,
    handler       text NOT NULL,
    dependencies  jsonb NOT NULL DEFAULT '[]',
    build_status  text NOT NULL DEFAULT 'success',
    build_log     text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (function_id, version)
);

-- Jobs outlive their function (readable by id until retention removes them),
-- so function_id carries no foreign key.
CREATE TABLE jobs (
    id               uuid PRIMARY KEY,
    function_id      bigint NOT NULL,
    function_name    text NOT NULL,
    version          integer NOT NULL,
    trigger          text NOT NULL,
    status           text NOT NULL,
    owner            text NOT NULL DEFAULT '',
    subject          text,
    event            jsonb,
    context          jsonb NOT NULL DEFAULT '{}',
    result           jsonb,
    error            jsonb,
    timestamp        timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    duration         double precision,
    cold_start       boolean NOT NULL DEFAULT false,
    attempts         integer NOT NULL DEFAULT 0,
    lost_leases      integer NOT NULL DEFAULT 0,
    cached           boolean NOT NULL DEFAULT false,
    run_after        timestamptz NOT NULL DEFAULT now(),
    lease_token      uuid,
    lease_expires_at timestamptz,
    cpu_ms           double precision,
    max_rss_bytes    bigint
);
CREATE INDEX jobs_pending ON jobs (run_after) WHERE status = 'pending';
CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE status = 'running' AND lease_token IS NOT NULL;
CREATE INDEX jobs_by_function ON jobs (function_id, timestamp DESC, id DESC);

CREATE TABLE job_logs (
    id           bigserial PRIMARY KEY,
    job_id       uuid NOT NULL,
    function_id  bigint NOT NULL,
    timestamp    timestamptz NOT NULL,
    stream       text NOT NULL,
    message      text NOT NULL
);
CREATE INDEX job_logs_by_job ON job_logs (job_id, id);
CREATE INDEX job_logs_by_function ON job_logs (function_id, timestamp);

-- Kept 24 h even when the job itself is pruned sooner.
CREATE TABLE idempotency_keys (
    owner         text NOT NULL,
    function_id   bigint NOT NULL,
    key           text NOT NULL,
    request_hash  text NOT NULL,
    job_id        uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, function_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
