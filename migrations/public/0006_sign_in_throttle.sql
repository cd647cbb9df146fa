-- Sign-in throttling per (realm, user name, client address): one row per pair that failed
-- recently, counted with a single atomic upsert before the password is checked, so concurrent
-- attempts cannot all slip under the bound. The per-user and per-address bounds are sums over
-- these rows. Rows quiet for an hour are forgotten (swept at successful sign-ins).
-- realm: 'platform' or the tenant's schema name; username: lower-cased; ip: '' when unknown.
CREATE TABLE login_throttle (
    realm    text NOT NULL,
    username text NOT NULL,
    ip       text NOT NULL,
    failures integer NOT NULL,
    last_at  timestamptz NOT NULL,
    PRIMARY KEY (realm, username, ip)
);
CREATE INDEX login_throttle_ip ON login_throttle (realm, ip);
CREATE INDEX login_throttle_last_at ON login_throttle (last_at);
