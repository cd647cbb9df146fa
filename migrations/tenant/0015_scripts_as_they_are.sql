-- Scripts as they are: how a skill version's inputs reach its script (`args`, `stdin`) and which
-- files it writes outside output/ are artifacts (`artifacts`), as its skill.toml declares them
-- (see model::invocation). Versions registered before take their inputs from $EXECGOV_INPUTS
-- only: an empty object.
ALTER TABLE skill_versions
    ADD COLUMN invocation jsonb NOT NULL DEFAULT '{}'::jsonb
        CONSTRAINT skill_versions_invocation_check CHECK (jsonb_typeof(invocation) = 'object');

-- Files a run left in its working folder that no artifact glob collected, so nothing vanishes
-- silently: the first few paths (relative to the working folder) and how many there were.
ALTER TABLE executions
    ADD COLUMN written_outside text[] NOT NULL DEFAULT '{}',
    ADD COLUMN written_outside_count integer NOT NULL DEFAULT 0
        CONSTRAINT executions_written_outside_count_check CHECK (written_outside_count >= 0);
