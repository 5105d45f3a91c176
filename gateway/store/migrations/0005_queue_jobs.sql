-- Queue-trigger jobs: a message that carries a message_id is keyed by
-- "<trigger id>:<message id>", so a redelivered message (a consumer or a broker
-- connection died after the run) finds its job instead of running it again.

ALTER TABLE jobs ADD COLUMN source_key text;
CREATE UNIQUE INDEX jobs_source_key ON jobs (source_key) WHERE source_key IS NOT NULL;
