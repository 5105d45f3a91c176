-- Cross-replica clean-up as an outbox (issue 12): every running replica registers itself in
-- `replicas`; deleting (or renaming) a function writes one `function_cleanups` row per
-- registered replica in the same transaction. Each replica takes its own rows when its
-- change listener wakes it (a NOTIFY, a reconnect, a periodic sweep), drops what it holds
-- of the function, then deletes them: at least once, even when the NOTIFY was missed.
CREATE TABLE IF NOT EXISTS replicas (
    id uuid PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS function_cleanups (
    id bigserial PRIMARY KEY,
    replica_id uuid NOT NULL REFERENCES replicas (id) ON DELETE CASCADE,
    function_id bigint NOT NULL,
    function_name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('deleted', 'renamed')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS function_cleanups_by_replica ON function_cleanups (replica_id, id);
