-- A function's sandbox profile and CPU quota (issue 9): `network` is 'egress' (public
-- addresses only) or 'none'; `ephemeral_storage_mb` caps each private writable filesystem
-- of its workers (/tmp, the working directory, /dev/shm); `cpu_millis` is the cgroup CPU
-- quota in thousandths of a core. The defaults are the API's, so existing functions keep
-- running as before.
ALTER TABLE functions
    ADD COLUMN IF NOT EXISTS network text NOT NULL DEFAULT 'egress'
        CHECK (network IN ('egress', 'none')),
    ADD COLUMN IF NOT EXISTS ephemeral_storage_mb integer NOT NULL DEFAULT 512
        CHECK (ephemeral_storage_mb > 0),
    ADD COLUMN IF NOT EXISTS cpu_millis integer NOT NULL DEFAULT 1000
        CHECK (cpu_millis > 0);
