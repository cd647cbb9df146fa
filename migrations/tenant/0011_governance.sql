-- Governance hardening (issue 11), in each tenant's schema.

-- §10 The tenant's audit log becomes a hash chain like the platform's (see public migration
-- 0009): the entries written so far are linked in id order, new ones at commit.
SELECT public.audit_chain_install('audit_log');
