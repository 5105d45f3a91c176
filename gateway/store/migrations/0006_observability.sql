-- Audit events of functions, and the indexes function logs need (paging, following
-- and retention).

-- Events outlive their function (its `deleted` event is the last), so function_id
-- carries no foreign key.
CREATE TABLE function_events (
    id            bigserial PRIMARY KEY,
    function_id   bigint NOT NULL,
    function_name text NOT NULL,
    type          text NOT NULL,
    description   text NOT NULL DEFAULT '',
    metadata      jsonb NOT NULL DEFAULT '{}',
    -- The token's `sub` of the change; NULL for a change the gateway made on its own.
    actor         text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX function_events_by_function ON function_events (function_id, id DESC);
CREATE INDEX function_events_deleted_name ON function_events (function_name, id DESC)
    WHERE type = 'deleted';

-- Following a function's logs reads lines after the last id it sent; the count cap of
-- retention cuts each function's lines at an id.
CREATE INDEX job_logs_by_function_id ON job_logs (function_id, id);
-- Age-based retention: lines arrive roughly in time order, so a BRIN index is tiny and
-- costs the insert path almost nothing.
CREATE INDEX job_logs_timestamp_brin ON job_logs USING brin (timestamp);
