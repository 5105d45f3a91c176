-- What a version runs with, and how its build went (issue 10).
--
-- `resolved_dependencies`: the dependency set the version serves with — the system's,
-- then its project's, then its own, layered (gateway/projects.py) — as of its last
-- successful build. Runs install exactly this list, so a project or system change does
-- not change what a serving version runs until a rebuild for the new set has succeeded.
-- NULL: not recorded yet (a version from before this migration); a run then layers the
-- lists as they are now, as before.
--
-- `build_duration_ms`, `build_finished_at`: the duration and end of the build that produced the
-- serving set (the first build, or the latest successful rebuild).
--
-- `rebuild_*`: a rebuild for a new layered set after a project or system dependency
-- change. `rebuild_status` 'building' (the version keeps serving its recorded set) or
-- 'failed' (it still does; `rebuild_log` says why); NULL when none is pending. A
-- successful rebuild moves `rebuild_dependencies` into `resolved_dependencies` and clears
-- these columns in one statement.
ALTER TABLE function_versions
    ADD COLUMN IF NOT EXISTS resolved_dependencies jsonb,
    ADD COLUMN IF NOT EXISTS build_duration_ms integer,
    ADD COLUMN IF NOT EXISTS build_finished_at timestamptz,
    ADD COLUMN IF NOT EXISTS rebuild_dependencies jsonb,
    ADD COLUMN IF NOT EXISTS rebuild_status text
        CHECK (rebuild_status IN ('building', 'failed')),
    ADD COLUMN IF NOT EXISTS rebuild_log text,
    ADD COLUMN IF NOT EXISTS rebuild_started_at timestamptz;

-- Where no layer beneath a built version adds anything, what it serves with is its own
-- list: record it. The others stay NULL until a rebuild records their set.
UPDATE function_versions v SET resolved_dependencies = v.dependencies
FROM functions f
LEFT JOIN projects p ON p.name = f.project
LEFT JOIN system_settings s ON s.id = 0
WHERE f.id = v.function_id AND v.build_status = 'success'
  AND v.resolved_dependencies IS NULL
  AND coalesce(s.dependencies, '[]') = '[]' AND coalesce(p.dependencies, '[]') = '[]';
