-- Whether a version that is building becomes active when its build succeeds: true for
-- the versions a create or an update of the function makes, and for
-- `POST /api/v1/functions/{ref}/versions` with `"activate": true`; false for one made
-- with `"activate": false`, which stays inactive until it is activated by hand.
ALTER TABLE function_versions
    ADD COLUMN IF NOT EXISTS activate_on_build boolean NOT NULL DEFAULT true;
