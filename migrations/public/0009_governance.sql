-- Governance hardening (issue 11).

-- §10 The audit logs become hash chains. Each entry stores its position in its log (`seq`), the
-- hash of the entry before it (`prev_hash`, '' for the first) and its own `hash`: SHA-256 over
-- a canonical encoding of the previous hash and the entry's content (audit_entry_hash). The
-- links are made at commit time by a deferred trigger that serialises appends per log with a
-- transaction-level advisory lock, so concurrent writers cannot fork a chain and the lock is
-- held only while the transaction commits (not across the rest of a worker's transaction).
-- `execgov audit verify` and the console recompute every link.

-- The canonical encoding: a version tag, then each field as <byte length>:<bytes> ('-' for
-- NULL), the time as microseconds since the epoch and `detail` as jsonb's own (normalised)
-- text. domain::audit::entry_hash computes exactly the same. Plain SQL expressions, so that
-- PostgreSQL inlines them into the (cached) plans of the link functions below (their
-- volatility is that of their bodies: extract from a timestamptz and convert_to are STABLE).
CREATE FUNCTION public.audit_field(f text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN f IS NULL THEN '-' ELSE octet_length(f)::text || ':' || f END
$$;
CREATE FUNCTION public.audit_entry_hash(
    prev_hash text, id bigint, at timestamptz, actor text, action text, target text,
    detail jsonb, result text, ip text, user_agent text
) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(
        'execgov-audit-v1' || public.audit_field(prev_hash) || public.audit_field(id::text)
        || public.audit_field((extract(epoch FROM at) * 1000000)::bigint::text)
        || public.audit_field(actor) || public.audit_field(action) || public.audit_field(target)
        || public.audit_field(detail::text) || public.audit_field(result)
        || public.audit_field(ip) || public.audit_field(user_agent),
        'UTF8')), 'hex')
$$;

-- BEFORE INSERT: notes the log in a transaction-local setting, so that at commit the links
-- take the locks of every log this transaction wrote in one order (a worker's transaction
-- ends one tenant's execution and starts another tenant's: two logs; without the order two
-- such transactions could deadlock).
CREATE FUNCTION public.audit_chain_note() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    noted text := coalesce(current_setting('execgov.audit_chains', true), '');
BEGIN
    IF position(',' || TG_RELID::bigint || ',' IN ',' || noted) = 0 THEN
        PERFORM set_config('execgov.audit_chains', noted || TG_RELID::bigint || ',', true);
    END IF;
    RETURN NEW;
END $$;

-- Called by each log's link function before it reads the end of its chain: the first call in a
-- transaction takes the locks of every log the transaction wrote, in one order.
CREATE FUNCTION public.audit_chain_lock() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    chain bigint;
BEGIN
    IF current_setting('execgov.audit_locked', true) IS DISTINCT FROM 'yes' THEN
        FOR chain IN
            SELECT DISTINCT k::bigint FROM unnest(string_to_array(
                current_setting('execgov.audit_chains', true), ',')) AS k
            WHERE k <> '' ORDER BY 1
        LOOP
            -- 'EGOV' in the high half keeps these keys apart from the application's others.
            PERFORM pg_advisory_xact_lock((1162301270::bigint << 32) | chain);
        END LOOP;
        PERFORM set_config('execgov.audit_locked', 'yes', true);
    END IF;
END $$;

-- Deferred AFTER INSERT on the platform's log: links the entry to the end of its log. Each log
-- has its own link function with static SQL (plans cached per connection; PL/pgSQL's dynamic
-- EXECUTE would plan every statement anew). SECURITY DEFINER: at commit the transaction may be
-- acting as a tenant's role. The tenant migration makes the same function for each tenant's
-- log, owned by the tenant's role.
CREATE FUNCTION public.platform_audit_link() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE
    last_seq bigint;
    last_hash text;
BEGIN
    PERFORM public.audit_chain_lock();
    SELECT seq, hash INTO last_seq, last_hash FROM public.platform_audit
        WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
    UPDATE public.platform_audit SET seq = coalesce(last_seq, 0) + 1,
        prev_hash = coalesce(last_hash, ''),
        hash = public.audit_entry_hash(coalesce(last_hash, ''), NEW.id, NEW.at, NEW.actor,
            NEW.action, NEW.target, NEW.detail, NEW.result, NEW.ip, NEW.user_agent)
    WHERE id = NEW.id;
    RETURN NULL;
END $$;

-- Links a whole existing log in id order (the entries written before this migration), then
-- puts the triggers on it, `link` being its link function. Used here for the platform's log and
-- by the tenant migration for each tenant's.
CREATE FUNCTION public.audit_chain_install(log regclass, link regproc) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    e record;
    n bigint := 0;
    prev text := '';
    h text;
BEGIN
    EXECUTE format('ALTER TABLE %s ADD COLUMN seq bigint, ADD COLUMN prev_hash text, '
                   'ADD COLUMN hash text', log);
    FOR e IN EXECUTE format('SELECT * FROM %s ORDER BY id', log) LOOP
        n := n + 1;
        h := public.audit_entry_hash(prev, e.id, e.at, e.actor, e.action, e.target, e.detail,
                                     e.result, e.ip, e.user_agent);
        EXECUTE format('UPDATE %s SET seq = $1, prev_hash = $2, hash = $3 WHERE id = $4', log)
            USING n, prev, h, e.id;
        prev := h;
    END LOOP;
    -- Unique: two entries can never claim the same place in the chain.
    EXECUTE format('CREATE UNIQUE INDEX %I ON %s (seq)',
                   (SELECT relname FROM pg_class WHERE oid = log) || '_seq', log);
    EXECUTE format('CREATE TRIGGER audit_chain_note BEFORE INSERT ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION public.audit_chain_note()', log);
    EXECUTE format('CREATE CONSTRAINT TRIGGER audit_chain_link AFTER INSERT ON %s '
                   'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION %s()', log, link);
END $$;

SELECT public.audit_chain_install('public.platform_audit', 'public.platform_audit_link');

-- §9 Submission ids are seen by tenants (URLs, API, CLI, their skills' versions and audit
-- entries) but numbered across the platform: consecutive ids let a tenant count every other
-- tenant's submissions. New ones get random ids instead: 51 random bits with the top bit of
-- 52 set, so every new id has 16 digits, never meets an earlier (small) id, and stays exact in
-- JavaScript numbers. One id keeps meaning the same submission for the tenant, the console and
-- the audit trail (per-tenant numbers would need a second identifier and a translation at every
-- boundary). Lists are ordered by time instead of by id.
ALTER TABLE skill_submissions ALTER COLUMN id DROP IDENTITY;
ALTER TABLE skill_submissions ALTER COLUMN id SET DEFAULT
    (('x' || substr(md5(gen_random_uuid()::text), 1, 13))::bit(52)::bigint | (1::bigint << 51));
DROP INDEX skill_submissions_by_tenant;
CREATE INDEX skill_submissions_by_tenant ON skill_submissions (tenant_id, created_at DESC, id DESC);
DROP INDEX skill_submissions_pending;
CREATE INDEX skill_submissions_pending ON skill_submissions (created_at, id) WHERE status = 'submitted';

-- §9 The verification's names of other tenants stay in the platform's view; the timeline a
-- tenant reads no longer says how many tenants were checked.
UPDATE skill_submission_events
SET note = regexp_replace(note, ' \(\d+ other tenants checked\)$', ', not visible in any other tenant')
WHERE status = 'live';
