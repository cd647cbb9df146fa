-- Governance hardening (issue 11), in each tenant's schema.

-- §9 Verifications recorded in this log named every other tenant: reduced to the verdict (the
-- platform keeps the names on the submission). Before the chain below is computed.
UPDATE audit_log
SET detail = jsonb_set(detail, '{verification,other_tenants}', '"not visible in any other tenant"')
WHERE action = 'skill.live' AND detail #> '{verification,other_tenants}' IS NOT NULL;

-- §10 The tenant's audit log becomes a hash chain like the platform's (see public migration
-- 0009): the entries written so far are linked in id order, new ones at commit.
SELECT public.audit_chain_install('audit_log');

