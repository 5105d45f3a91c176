-- The job claim (issue 12 item 2) takes, per function, at most its free slots: it walks
-- the functions with pending jobs (one probe each) and reads each one's oldest due jobs,
-- instead of ranking every pending job in one sort.
CREATE INDEX IF NOT EXISTS jobs_pending_by_function ON jobs (function_id, run_after)
    WHERE status = 'pending';
