-- Project quotas (operator-set; NULL = unlimited), the project and issuer of every audit
-- event, project-level audit events (no function), and webhooks of one project.

ALTER TABLE projects ADD COLUMN max_functions integer CHECK (max_functions >= 1);
ALTER TABLE projects ADD COLUMN max_concurrency integer CHECK (max_concurrency >= 1);
ALTER TABLE projects ADD COLUMN max_memory_mb integer CHECK (max_memory_mb >= 1);

-- An event's project: the function's at the time of the change (a move is recorded in the
-- project it moved to, with `metadata.from_project`), or the project changed. Events of
-- functions deleted before this migration keep NULL (their project is no longer known).
ALTER TABLE function_events ADD COLUMN project text;
ALTER TABLE function_events ADD COLUMN actor_issuer text;
ALTER TABLE function_events ALTER COLUMN function_id DROP NOT NULL;
ALTER TABLE function_events ALTER COLUMN function_name DROP NOT NULL;
UPDATE function_events e SET project = f.project FROM functions f WHERE f.id = e.function_id;
CREATE INDEX function_events_by_project ON function_events (project, id DESC);
CREATE INDEX function_events_moved_from ON function_events ((metadata ->> 'from_project'), id DESC)
    WHERE metadata ? 'from_project';

-- A webhook of one project receives that project's events only; NULL: every project's
-- (the operator's). It goes with its project.
ALTER TABLE webhooks ADD COLUMN project text
    REFERENCES projects (name) ON UPDATE CASCADE ON DELETE CASCADE;
