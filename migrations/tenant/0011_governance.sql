-- Governance hardening (issue 11), in each tenant's schema.

-- §9 Verifications recorded in this log named every other tenant: reduced to the verdict (the
-- platform keeps the names on the submission). Before the chain below is computed.
UPDATE audit_log
SET detail = jsonb_set(detail, '{verification,other_tenants}', '"not visible in any other tenant"')
WHERE action = 'skill.live' AND detail #> '{verification,other_tenants}' IS NOT NULL;

-- §10 The tenant's audit log becomes a hash chain like the platform's (see public migration
-- 0009): the entries written so far are linked in id order, new ones at commit by this
-- schema's own link function. It runs as the tenant's role (its owner) with this schema as its
-- search path, whatever role and path the committing transaction has then.
CREATE FUNCTION audit_log_link() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT AS $$
DECLARE
    last_seq bigint;
    last_hash text;
BEGIN
    PERFORM public.audit_chain_lock();
    SELECT seq, hash INTO last_seq, last_hash FROM audit_log
        WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
    UPDATE audit_log SET seq = coalesce(last_seq, 0) + 1,
        prev_hash = coalesce(last_hash, ''),
        hash = public.audit_entry_hash(coalesce(last_hash, ''), NEW.id, NEW.at, NEW.actor,
            NEW.action, NEW.target, NEW.detail, NEW.result, NEW.ip, NEW.user_agent)
    WHERE id = NEW.id;
    RETURN NULL;
END $$;
SELECT public.audit_chain_install('audit_log', 'audit_log_link');

-- §4 The platform withdraws a skill version (it is never made live again: not by the tenant's
-- roll back or forward) and disables a skill in a tenant (`enabled` false with the reason: the
-- tenant has no way to enable it again; only the platform clears it).
ALTER TABLE skill_versions
    ADD COLUMN withdrawn_at     timestamptz,
    ADD COLUMN withdrawn_by     text,
    ADD COLUMN withdrawn_reason text,
    ADD CONSTRAINT skill_versions_check CHECK ((withdrawn_at IS NULL) = (withdrawn_reason IS NULL));
ALTER TABLE skills
    ADD COLUMN disabled_by     text,
    ADD COLUMN disabled_reason text,
    ADD CONSTRAINT skills_check CHECK (disabled_reason IS NULL OR NOT enabled);
