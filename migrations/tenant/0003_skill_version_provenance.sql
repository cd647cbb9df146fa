-- Where a skill version came from: the hot-update submission (in public.skill_submissions), who
-- submitted it and who approved it. Versions registered by the platform itself have none.
ALTER TABLE skill_versions
    ADD COLUMN submission_id bigint,
    ADD COLUMN submitted_by  text,
    ADD COLUMN approved_by   text;
