-- Webhooks, and the outgoing deliveries of webhook events and X-Callback-URL
-- callbacks. A delivery is a row before it is a request, so an accepted one
-- survives a restart; replicas claim due rows with FOR UPDATE SKIP LOCKED and
-- hold them under a lease while they send.

CREATE TABLE webhooks (
    id          bigserial PRIMARY KEY,
    url         text NOT NULL,
    events      text[] NOT NULL,
    -- The HMAC key of this webhook's signatures; never returned by the API.
    secret      text NOT NULL,
    created_by  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id               bigserial PRIMARY KEY,
    -- NULL for a callback (signed with the gateway's callback secret).
    webhook_id       bigint REFERENCES webhooks (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('webhook', 'callback')),
    url              text NOT NULL,
    event            text NOT NULL,
    -- The event's data; NULL for job events, rendered from the job when sent.
    payload          jsonb,
    job_id           uuid,
    -- waiting (a callback whose job has not finished) → pending → delivered | failed
    status           text NOT NULL DEFAULT 'pending',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_token      uuid,
    lease_expires_at timestamptz,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_waiting ON webhook_deliveries (job_id)
    WHERE status = 'waiting';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id DESC);
-- One callback per job, however often its Idempotency-Key is replayed.
CREATE UNIQUE INDEX webhook_deliveries_one_callback ON webhook_deliveries (job_id)
    WHERE kind = 'callback';

-- Every try of a delivery, for debugging a receiver.
CREATE TABLE webhook_delivery_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt      integer NOT NULL,
    status_code  integer,
    error        text,
    duration_ms  double precision NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_delivery_attempts_by_delivery ON webhook_delivery_attempts (delivery_id);
