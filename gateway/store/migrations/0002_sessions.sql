-- Initialize/execute sessions: each pins one function version for its lifetime.

CREATE TABLE sessions (
    id               uuid PRIMARY KEY,
    owner            text NOT NULL,
    function_id      bigint NOT NULL,
    language_title   text NOT NULL,
    version          integer NOT NULL,
    context          jsonb NOT NULL DEFAULT '{}',
    timeout_ms       integer NOT NULL,
    retain_session   boolean NOT NULL DEFAULT true,
    status           text NOT NULL DEFAULT 'active',
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    execution_count  integer NOT NULL DEFAULT 0,
    last_executed_at timestamptz
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_function ON sessions (function_id);
