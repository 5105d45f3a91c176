-- The result cache, shared by every replica. UNLOGGED: losing it in a crash
-- only costs recomputation, and it skips the WAL on a write-heavy path.

CREATE UNLOGGED TABLE result_cache (
    key         text PRIMARY KEY,
    function_id bigint NOT NULL,
    value       jsonb,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX result_cache_expires_at ON result_cache (expires_at);
CREATE INDEX result_cache_function_id ON result_cache (function_id);
