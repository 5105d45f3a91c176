-- Function names take Lambda's set (`^[A-Za-z][A-Za-z0-9_-]{0,63}$`, API.md: the seeds
-- write `myFunction`) and are unique case-insensitively: `myFunction` and `MyFunction`
-- are one name, so a ref resolves by lower case and no two functions answer to it.
-- Names stored before this were lower case already, so the new index cannot conflict.
ALTER TABLE functions DROP CONSTRAINT functions_name_key;
CREATE UNIQUE INDEX functions_name_lower ON functions (lower(name));
-- Refs also resolve by `language_title` (`<runtime>-<name>`), case-insensitively.
CREATE INDEX functions_language_title_lower ON functions (lower(runtime || '-' || name));
