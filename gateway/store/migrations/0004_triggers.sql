-- Triggers (http, cron, queue) and the cron fire claims that make each scheduled
-- time run exactly once across replicas.

CREATE TABLE triggers (
    id          bigserial PRIMARY KEY,
    function_id bigint NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    name        text,
    type        text NOT NULL,
    enabled     boolean NOT NULL DEFAULT true,
    config      jsonb NOT NULL DEFAULT '{}',
    -- The normalized path of an http trigger; unique across triggers.
    http_path   text UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX triggers_function ON triggers (function_id);

CREATE TABLE cron_fires (
    trigger_id     bigint NOT NULL,
    scheduled_time timestamptz NOT NULL,
    job_id         uuid NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trigger_id, scheduled_time)
);
