-- Secrets of each layer (the system, a project, a function), sealed at rest: `secrets` is
-- one Fernet token of the layer's name → value map (gateway/core/secretbox.py), NULL when
-- it has none; `secret_names` lets the API list them without opening the token.

ALTER TABLE system_settings ADD COLUMN secrets bytea;
ALTER TABLE system_settings ADD COLUMN secret_names text[] NOT NULL DEFAULT '{}';
ALTER TABLE projects ADD COLUMN secrets bytea;
ALTER TABLE projects ADD COLUMN secret_names text[] NOT NULL DEFAULT '{}';
ALTER TABLE functions ADD COLUMN secrets bytea;
ALTER TABLE functions ADD COLUMN secret_names text[] NOT NULL DEFAULT '{}';
