-- Projects (a function's `project` names one), their environment and dependencies,
-- and the gateway-wide (system) environment and dependencies beneath them.

CREATE TABLE projects (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL UNIQUE,
    description  text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'stopped')),
    environment  jsonb NOT NULL DEFAULT '{}',
    dependencies jsonb NOT NULL DEFAULT '[]',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Every project functions already name exists, and "default" always to begin with.
INSERT INTO projects (name) VALUES ('default') ON CONFLICT DO NOTHING;
INSERT INTO projects (name) SELECT DISTINCT project FROM functions ON CONFLICT DO NOTHING;

-- A project with functions cannot be deleted, and a function names an existing project.
ALTER TABLE functions
    ADD CONSTRAINT functions_project_fkey FOREIGN KEY (project) REFERENCES projects (name)
    ON UPDATE CASCADE ON DELETE RESTRICT;

-- One row: the environment and dependencies every function gets beneath its project's.
CREATE TABLE system_settings (
    id           integer PRIMARY KEY DEFAULT 0 CHECK (id = 0),
    environment  jsonb NOT NULL DEFAULT '{}',
    dependencies jsonb NOT NULL DEFAULT '[]',
    updated_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO system_settings (id) VALUES (0);
