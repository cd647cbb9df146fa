-- Python packages (issue 12): the lock a skill version runs with. Its hash names the shared,
-- immutable environment under the data directory (`environments/<lock_hash>/`); NULL: the
-- version declares no packages and runs with the standard library only.
ALTER TABLE skill_versions
    ADD COLUMN lock_text text,
    ADD COLUMN lock_hash text CONSTRAINT skill_versions_lock_hash_check CHECK (lock_hash ~ '^[0-9a-f]{64}$'),
    ADD CONSTRAINT skill_versions_lock_whole CHECK ((lock_text IS NULL) = (lock_hash IS NULL));
CREATE INDEX skill_versions_by_lock ON skill_versions (lock_hash) WHERE lock_hash IS NOT NULL;
