-- Retention (issue 11, section 2): a finished execution's files (uploads, artifacts) and log
-- lines are removed after its tenant's retention period; the row and its audit entries stay, and
-- the execution says when its files went and after how many days.
ALTER TABLE executions
    ADD COLUMN files_removed_at timestamptz,
    ADD COLUMN files_kept_days  integer CONSTRAINT executions_files_kept_days_check CHECK (files_kept_days >= 1),
    ADD CONSTRAINT executions_check CHECK ((files_removed_at IS NULL) = (files_kept_days IS NULL));
CREATE INDEX executions_files_kept ON executions (finished_at) WHERE files_removed_at IS NULL;
