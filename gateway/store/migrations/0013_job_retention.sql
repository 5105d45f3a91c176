-- Job retention (issue 12): maintenance deletes finished jobs (and their log lines) by
-- age and, per function, beyond the newest FNGATE_JOB_RETENTION_PER_FUNCTION, in small
-- batches walked in (finished_at, id) order.
--
-- Finished jobs by when they finished: the age cut walks this from the oldest.
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished_at, id)
    WHERE status IN ('success', 'failed');
-- The same per function: one probe finds each function's newest-N boundary, and the
-- count cut walks the jobs below it.
CREATE INDEX IF NOT EXISTS jobs_finished_by_function ON jobs (function_id, finished_at, id)
    WHERE status IN ('success', 'failed');
-- A job an unexpired Idempotency-Key names is kept (a repeated call answers with it);
-- so is one whose callback or webhook event is still to be sent (its body is rendered
-- from the job when it is sent). Both checks look a job up by id.
CREATE INDEX IF NOT EXISTS idempotency_keys_job ON idempotency_keys (job_id);
CREATE INDEX IF NOT EXISTS webhook_deliveries_undelivered_job ON webhook_deliveries (job_id)
    WHERE status IN ('waiting', 'pending');
