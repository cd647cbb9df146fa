//! Tenants are sealed off from each other: at the connection level (one pooled connection reused
//! by both tenants), at the session level (cookies are bound to the host that issued them) and at
//! the route level (no endpoint lets Acme's admin reach Globex's data).

mod common;

use common::*;
use domain::db::{TenantSchema, TenantTx};
use serde_json::Value;

const ACME: &str = "acme.localhost";
const GLOBEX: &str = "globex.localhost";
const CONSOLE: &str = "admin.localhost";
const GLOBEX_NAMES: [&str; 2] = ["globex-admin", "globex-user"];

async fn usernames(tx: &mut TenantTx) -> Vec<String> {
    sqlx::query_scalar("SELECT username FROM users ORDER BY username")
        .fetch_all(&mut **tx)
        .await
        .expect("reading users inside a TenantTx")
}

/// One pooled connection alternating 60 times between Acme's and Globex's `TenantTx` always sees
/// the current tenant's users only, also right after a rolled-back transaction and after an
/// error inside a transaction. Outside a `TenantTx` the same connection finds no tenant table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_alternating_between_tenants_never_mixes_them() {
    let db = seeded_db().await;
    let pool = domain::db::connect(db.options.clone(), 1)
        .await
        .expect("a pool of one connection");
    let acme = TenantSchema::parse("tenant_1003").unwrap();
    let globex = TenantSchema::parse("tenant_1004").unwrap();
    let acme_users = vec!["acme-admin".to_string(), "acme-user".to_string()];
    let globex_users = vec!["globex-admin".to_string(), "globex-user".to_string()];
    let backend_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .unwrap();

    for round in 0..60 {
        let (schema, expected) = if round % 2 == 0 {
            (&acme, &acme_users)
        } else {
            (&globex, &globex_users)
        };
        let mut tx = TenantTx::begin(&pool, schema).await.unwrap();
        assert_eq!(&usernames(&mut tx).await, expected, "round {round}");
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(pid, backend_pid, "the pool must reuse its one connection");
        match round % 5 {
            // Commit.
            0 | 1 => tx.commit().await.unwrap(),
            // Dropped without commit: rolled back.
            2 => drop(tx),
            // An error inside the transaction, then dropped.
            3 => {
                let err = sqlx::query("SELECT 1 / 0").execute(&mut *tx).await;
                assert!(err.is_err());
                drop(tx);
            }
            // An error, then a commit attempt (PostgreSQL rolls back an aborted transaction).
            _ => {
                let err = sqlx::query("SELECT no_such_column FROM users")
                    .execute(&mut *tx)
                    .await;
                assert!(err.is_err());
                let _ = tx.commit().await;
            }
        }
        // Between tenants the connection is back on the fail-closed default.
        let path: String = sqlx::query_scalar("SELECT current_setting('search_path')")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(path, "public", "round {round}: the search path leaked");
        let same_role: bool = sqlx::query_scalar("SELECT current_user = session_user")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(same_role, "round {round}: a role switch leaked");
        let outside = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM users")
            .fetch_one(&pool)
            .await;
        assert!(
            outside.is_err(),
            "round {round}: `users` must not resolve outside a TenantTx, got {outside:?}"
        );
    }

    // A plain transaction (not a TenantTx) on the same connection finds no tenant table either.
    let mut tx = pool.begin().await.unwrap();
    let plain = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM users")
        .fetch_one(&mut *tx)
        .await;
    assert!(plain.is_err(), "{plain:?}");
    drop(tx);
    // And the connection is still healthy and still isolating.
    let mut tx = TenantTx::begin(&pool, &globex).await.unwrap();
    assert_eq!(usernames(&mut tx).await, globex_users);
    tx.commit().await.unwrap();
    pool.close().await;
}

/// A session cookie is bound to the host that issued it: Acme's cookie on Globex, on the console,
/// and the console's cookie on Acme are all anonymous, while each works on its own host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cookie_only_works_on_the_host_that_issued_it() {
    let server = start_server(seeded_ctx().await).await;
    let acme = server.login(ACME, "acme-admin", PASSWORD).await;
    let console = server.login(CONSOLE, "superadmin", PASSWORD).await;

    // On its own host the Acme cookie works.
    let home = server.get(ACME, "/", Some(&acme)).await;
    assert_eq!(who(&home.body).as_deref(), Some("acme-admin"));
    server
        .call(ACME, "list-users", &[], Some(&acme))
        .await
        .assert_ok();

    // On Globex it is nobody.
    let home = server.get(GLOBEX, "/", Some(&acme)).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains(r#"action="/api/login""#), "sign-in form");
    assert!(!home.body.contains("acme-admin"));
    assert_eq!(who(&home.body), None);
    let session = server
        .call(GLOBEX, "current-session", &[], Some(&acme))
        .await;
    session.assert_ok();
    assert_eq!(session.json()["principal"], Value::Null);
    assert_eq!(session.json()["tenant_name"], "Globex");
    let users = server.call(GLOBEX, "list-users", &[], Some(&acme)).await;
    users.assert_refused(&["Unauthenticated", "Forbidden"]);
    assert!(!users.body.contains("globex-user"));

    // On the console it is nobody.
    let home = server.get(CONSOLE, "/", Some(&acme)).await;
    assert!(home.body.contains("Public console: sign in"));
    assert!(!home.body.contains("acme-admin"));
    server
        .call(CONSOLE, "list-tenants", &[], Some(&acme))
        .await
        .assert_refused(&["Unauthenticated", "Forbidden"]);

    // The console's cookie is nobody on Acme.
    let home = server.get(ACME, "/", Some(&console)).await;
    assert!(home.body.contains(r#"action="/api/login""#));
    assert!(!home.body.contains("superadmin"));
    let session = server
        .call(ACME, "current-session", &[], Some(&console))
        .await;
    assert_eq!(session.json()["principal"], Value::Null);
    server
        .call(ACME, "list-users", &[], Some(&console))
        .await
        .assert_refused(&["Unauthenticated", "Forbidden"]);
    // …and works where it was issued.
    server
        .call(CONSOLE, "list-tenants", &[], Some(&console))
        .await
        .assert_ok();
    // The Acme cookie is nobody on the free console and the experience page too.
    for host in ["free.localhost", "localhost"] {
        let s = server.call(host, "current-session", &[], Some(&acme)).await;
        assert_eq!(s.json()["principal"], Value::Null, "{host}");
    }
}

fn names_in(reply: &Reply, field: &str) -> Vec<String> {
    reply
        .json()
        .as_array()
        .unwrap_or_else(|| panic!("a list: {}", reply.body))
        .iter()
        .map(|row| row[field].as_str().unwrap_or_default().to_string())
        .collect()
}

/// No route lets Acme's admin read or change Globex's users, audit rows or login log, or use the
/// console: everything they reach is Acme's, and Globex's rows stay untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_admin_cannot_reach_globex_data_through_any_route() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let globex = tenant_of(ctx, GLOBEX).await;
    // Globex activity that would show up in its logs.
    let globex_session = server.login(GLOBEX, "globex-admin", PASSWORD).await;
    let failed = server
        .call(
            GLOBEX,
            "login",
            &[
                ("username", "globex-user"),
                ("password", "wrong-password-123"),
            ],
            None,
        )
        .await;
    failed.assert_refused(&["Unauthenticated"]);
    // Globex gets more users than Acme, so some Globex ids do not exist in Acme at all.
    for name in ["globex-three", "globex-four", "globex-five"] {
        server
            .call(
                GLOBEX,
                "create-user",
                &[
                    ("username", name),
                    ("password", PASSWORD),
                    ("role", "member"),
                ],
                Some(&globex_session),
            )
            .await
            .assert_ok();
    }
    let globex_rows_before: Vec<(i64, String, String, bool)> =
        sqlx::query_as("SELECT id, username, role, disabled FROM tenant_1004.users ORDER BY id")
            .fetch_all(&ctx.pool)
            .await
            .unwrap();
    let acme_rows_before: Vec<(i64, String, String, bool)> =
        sqlx::query_as("SELECT id, username, role, disabled FROM tenant_1003.users ORDER BY id")
            .fetch_all(&ctx.pool)
            .await
            .unwrap();
    let acme_max_id = acme_rows_before.iter().map(|r| r.0).max().unwrap();
    let globex_only_ids: Vec<i64> = globex_rows_before
        .iter()
        .map(|r| r.0)
        .filter(|id| *id > acme_max_id)
        .collect();
    assert!(!globex_only_ids.is_empty());

    let acme = server.login(ACME, "acme-admin", PASSWORD).await;

    // Reading: only Acme's rows.
    let users = server.call(ACME, "list-users", &[], Some(&acme)).await;
    users.assert_ok();
    assert_eq!(
        names_in(&users, "username"),
        vec!["acme-admin", "acme-user"]
    );
    let audit = server.call(ACME, "audit-entries", &[], Some(&acme)).await;
    audit.assert_ok();
    let logins = server.call(ACME, "login-entries", &[], Some(&acme)).await;
    logins.assert_ok();
    for reply in [&users, &audit, &logins] {
        for name in GLOBEX_NAMES {
            assert!(
                !reply.body.contains(name),
                "Acme's admin saw {name}: {}",
                reply.body
            );
        }
        assert!(!reply.body.contains("globex-three"));
    }
    assert!(!names_in(&audit, "actor").is_empty());
    assert!(names_in(&logins, "username")
        .iter()
        .all(|u| u == "acme-admin"));

    // Changing a user by a Globex-only id: not found in Acme, Globex untouched.
    for id in &globex_only_ids {
        let id = id.to_string();
        for change in ["disable", "make-admin"] {
            let reply = server
                .call(
                    ACME,
                    "change-user",
                    &[("user_id", &id), ("change", change)],
                    Some(&acme),
                )
                .await;
            reply.assert_refused(&["NotFound"]);
            assert!(!reply.body.contains("globex"));
        }
    }
    // Changing id 2, which exists in both: only Acme's user 2 changes.
    server
        .call(
            ACME,
            "change-user",
            &[("user_id", "2"), ("change", "disable")],
            Some(&acme),
        )
        .await
        .assert_ok();
    let globex_rows_after: Vec<(i64, String, String, bool)> =
        sqlx::query_as("SELECT id, username, role, disabled FROM tenant_1004.users ORDER BY id")
            .fetch_all(&ctx.pool)
            .await
            .unwrap();
    assert_eq!(
        globex_rows_after, globex_rows_before,
        "Globex users changed"
    );
    let acme_user_2: bool =
        sqlx::query_scalar("SELECT disabled FROM tenant_1003.users WHERE id = 2")
            .fetch_one(&ctx.pool)
            .await
            .unwrap();
    assert!(acme_user_2, "the change happened in Acme");
    // Globex's own logs carry no trace of Acme's admin.
    let globex_audit =
        domain::accounts::audit_log(ctx, domain::accounts::Realm::Tenant(&globex), 1000)
            .await
            .unwrap();
    assert!(globex_audit.iter().all(|e| e.actor != "acme-admin"));
    // Globex's session still works: nothing Acme did ended it.
    server
        .call(GLOBEX, "list-users", &[], Some(&globex_session))
        .await
        .assert_ok();

    // With Host globex.localhost the Acme cookie is nobody, for every admin route.
    for endpoint in [
        "list-users",
        "audit-entries",
        "login-entries",
        "cross-tenant-links",
    ] {
        let reply = server.call(GLOBEX, endpoint, &[], Some(&acme)).await;
        reply.assert_refused(&["Unauthenticated", "Forbidden"]);
        assert!(
            !reply.body.contains("globex-"),
            "{endpoint}: {}",
            reply.body
        );
    }
    let reply = server
        .call(
            GLOBEX,
            "change-user",
            &[("user_id", "2"), ("change", "disable")],
            Some(&acme),
        )
        .await;
    reply.assert_refused(&["Unauthenticated", "Forbidden"]);
    let reply = server
        .call(
            GLOBEX,
            "create-user",
            &[
                ("username", "acme-plant"),
                ("password", PASSWORD),
                ("role", "admin"),
            ],
            Some(&acme),
        )
        .await;
    reply.assert_refused(&["Unauthenticated", "Forbidden"]);
    assert_eq!(
        sqlx::query_as::<_, (i64, String, String, bool)>(
            "SELECT id, username, role, disabled FROM tenant_1004.users ORDER BY id"
        )
        .fetch_all(&ctx.pool)
        .await
        .unwrap(),
        globex_rows_before
    );

    // The whitelist only gives Acme's admin a link to Globex, nothing more.
    let links = server
        .call(ACME, "cross-tenant-links", &[], Some(&acme))
        .await;
    links.assert_ok();
    assert_eq!(links.json()[0]["host"], GLOBEX);

    // Console-only endpoints are refused for Acme's admin on Acme and on the console host.
    let before = footprint(ctx).await;
    let globex_id = globex.id.to_string();
    let console_calls: [(&str, Vec<(&str, &str)>); 5] = [
        ("list-tenants", vec![]),
        ("get-tenant", vec![("id", globex_id.as_str())]),
        (
            "create-tenant",
            vec![
                ("name", "Acme Shadow"),
                ("host", "shadow.localhost"),
                ("admin_username", "shadow-admin"),
                ("admin_password", PASSWORD),
            ],
        ),
        (
            "set-tenant-active",
            vec![("id", globex_id.as_str()), ("active", "false")],
        ),
        (
            "whitelist-admin",
            vec![
                ("id", globex_id.as_str()),
                ("username", "globex-admin"),
                ("target_tenant_id", "1003"),
            ],
        ),
    ];
    for host in [ACME, CONSOLE] {
        for (endpoint, form) in &console_calls {
            let reply = server.call(host, endpoint, form, Some(&acme)).await;
            reply.assert_refused(&["Unauthenticated", "Forbidden"]);
            assert!(
                !reply.body.contains("Globex") && !reply.body.contains("tenant_1004"),
                "{endpoint} on {host}: {}",
                reply.body
            );
        }
    }
    assert_eq!(footprint(ctx).await, before);
    assert!(tenant_of(ctx, GLOBEX).await.active, "Globex still active");
}
