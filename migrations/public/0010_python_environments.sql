-- Python packages (issue 12): a submission's resolved lock (exact versions and hashes) as the
-- reviewer saw and approved it, and the `built` step (its environment is ready) between
-- `approved` and `synced`, for skills that declare packages.
ALTER TABLE skill_submissions
    ADD COLUMN lock_text   text,
    ADD COLUMN lock_hash   text CHECK (lock_hash ~ '^[0-9a-f]{64}$'),
    ADD COLUMN lock_source text,
    ADD CONSTRAINT skill_submissions_lock_whole
        CHECK ((lock_text IS NULL) = (lock_hash IS NULL) AND (lock_text IS NULL) = (lock_source IS NULL));

ALTER TABLE skill_submissions DROP CONSTRAINT skill_submissions_status_check;
ALTER TABLE skill_submissions ADD CONSTRAINT skill_submissions_status_check CHECK (status IN (
    'submitted', 'approved', 'rejected', 'built', 'synced', 'registered', 'live', 'failed'));
