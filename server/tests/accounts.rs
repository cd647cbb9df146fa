//! Accounts over HTTP: the login log and audit trail, throttling, disabling, user management,
//! roles, free-edition sign-up and logout.

mod common;

use common::*;
use serde_json::Value;

const ACME: &str = "acme.localhost";
const CONSOLE: &str = "admin.localhost";
const FREE: &str = "free.localhost";
const UA: &str = "ExecGovTest/1.0 (integration)";

fn rows(reply: &Reply) -> Vec<Value> {
    reply
        .json()
        .as_array()
        .unwrap_or_else(|| panic!("a list: {}", reply.body))
        .clone()
}

async fn login_with_ua(server: &TestServer, host: &str, user: &str, password: &str) -> Reply {
    server
        .call_with(
            host,
            "login",
            &[("username", user), ("password", password)],
            None,
            Extra {
                user_agent: Some(UA),
            },
        )
        .await
}

/// The signed-in principal a host sees for `session` (JSON null when anonymous).
async fn principal(server: &TestServer, host: &str, session: &str) -> Value {
    let reply = server
        .call(host, "current-session", &[], Some(session))
        .await;
    reply.assert_ok();
    reply.json()["principal"].clone()
}

/// Successful and failed logins land in the login log and the audit trail of their own realm
/// (tenant or platform), with the client's address and user agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_logged_in_their_own_realm_with_address_and_user_agent() {
    let server = start_server(seeded_ctx().await).await;

    login_with_ua(&server, ACME, "acme-user", "wrong-password-123")
        .await
        .assert_refused(&["Unauthenticated"]);
    login_with_ua(&server, ACME, "no-such-user", "wrong-password-123")
        .await
        .assert_refused(&["Unauthenticated"]);
    let ok = login_with_ua(&server, ACME, "acme-user", PASSWORD).await;
    ok.assert_ok();
    assert!(ok.session.is_some());
    login_with_ua(&server, CONSOLE, "superadmin", "wrong-password-123")
        .await
        .assert_refused(&["Unauthenticated"]);

    let acme = server.login(ACME, "acme-admin", PASSWORD).await;
    let logins = rows(&server.call(ACME, "login-entries", &[], Some(&acme)).await);
    let find = |user: &str, success: bool| {
        logins
            .iter()
            .find(|e| e["username"] == user && e["success"] == success)
            .unwrap_or_else(|| panic!("no {user}/{success} entry in {logins:?}"))
            .clone()
    };
    let failure = find("acme-user", false);
    assert_eq!(failure["reason"], "bad credentials");
    assert_eq!(failure["ip"], "127.0.0.1");
    assert_eq!(failure["user_agent"], UA);
    let success = find("acme-user", true);
    assert_eq!(success["reason"], "ok");
    assert_eq!(success["ip"], "127.0.0.1");
    assert_eq!(success["user_agent"], UA);
    find("no-such-user", false);
    // No user agent sent: none recorded.
    assert_eq!(find("acme-admin", true)["user_agent"], Value::Null);
    // The console's failed login is not in Acme's log.
    assert!(logins.iter().all(|e| e["username"] != "superadmin"));

    let audit = rows(&server.call(ACME, "audit-entries", &[], Some(&acme)).await);
    let audited = |action: &str, target: &str| {
        audit
            .iter()
            .find(|e| e["action"] == action && e["target"] == target)
            .unwrap_or_else(|| panic!("no {action} {target} in {audit:?}"))
            .clone()
    };
    let failure = audited("login.failure", "acme-user");
    assert_eq!(failure["result"], "refused");
    assert_eq!(failure["ip"], "127.0.0.1");
    assert_eq!(failure["user_agent"], UA);
    let success = audited("login.success", "acme-user");
    assert_eq!(success["result"], "ok");
    assert_eq!(success["actor"], "acme-user");
    assert_eq!(success["user_agent"], UA);
    assert!(audit.iter().all(|e| e["target"] != "superadmin"));

    // The platform realm has the console's attempt and none of Acme's.
    let console = server.login(CONSOLE, "superadmin", PASSWORD).await;
    let platform_logins = rows(
        &server
            .call(CONSOLE, "login-entries", &[], Some(&console))
            .await,
    );
    let failed = platform_logins
        .iter()
        .find(|e| e["username"] == "superadmin" && e["success"] == false)
        .expect("the console's failed login");
    assert_eq!(failed["ip"], "127.0.0.1");
    assert_eq!(failed["user_agent"], UA);
    assert!(platform_logins
        .iter()
        .all(|e| e["username"] != "acme-user" && e["username"] != "no-such-user"));
    let platform_audit = rows(
        &server
            .call(CONSOLE, "audit-entries", &[], Some(&console))
            .await,
    );
    assert!(platform_audit
        .iter()
        .any(|e| e["action"] == "login.failure" && e["target"] == "superadmin"));
    assert!(platform_audit
        .iter()
        .all(|e| e["target"] != "acme-user" && e["target"] != "no-such-user"));
}

/// After 5 failed logins for one user from one address the next attempt from there is refused as
/// throttled even with the right password, and recorded as such; another user of the tenant can
/// still sign in. (Other addresses are not held back: see `sign_in.rs`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failed_logins_throttle_the_user_even_with_the_right_password() {
    let server = start_server(seeded_ctx().await).await;
    for _ in 0..5 {
        server
            .call(
                ACME,
                "login",
                &[
                    ("username", "acme-user"),
                    ("password", "wrong-password-123"),
                ],
                None,
            )
            .await
            .assert_refused(&["Unauthenticated"]);
    }
    // The user name is matched case-insensitively for throttling too.
    for name in ["acme-user", "ACME-USER"] {
        let refused = server
            .call(
                ACME,
                "login",
                &[("username", name), ("password", PASSWORD)],
                None,
            )
            .await;
        refused.assert_refused(&["TooManyRequests"]);
        assert!(
            refused.error_message().contains("Too many failed sign-ins"),
            "{}",
            refused.body
        );
        assert!(refused.session.is_none());
    }
    // Another user is not affected; the log says why acme-user was refused.
    let admin = server.login(ACME, "acme-admin", PASSWORD).await;
    let logins = rows(&server.call(ACME, "login-entries", &[], Some(&admin)).await);
    assert!(logins
        .iter()
        .any(|e| e["username"] == "acme-user" && e["reason"] == "throttled"));
    // Throttling is per realm: the same name elsewhere is unaffected (Globex has no acme-user,
    // but its own users sign in).
    server
        .login("globex.localhost", "globex-user", PASSWORD)
        .await;
}

/// Disabling a user ends their existing session and refuses their logins; an admin cannot
/// disable or demote themselves; enabling restores access.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_user_is_locked_out_and_admins_cannot_disable_themselves() {
    let server = start_server(seeded_ctx().await).await;
    let admin = server.login(ACME, "acme-admin", PASSWORD).await;
    let user = server.login(ACME, "acme-user", PASSWORD).await;
    assert_eq!(
        principal(&server, ACME, &user).await["Tenant"]["username"],
        "acme-user"
    );
    let ids = rows(&server.call(ACME, "list-users", &[], Some(&admin)).await);
    let id_of = |name: &str| {
        ids.iter().find(|u| u["username"] == name).unwrap()["id"]
            .as_i64()
            .unwrap()
            .to_string()
    };
    let (admin_id, user_id) = (id_of("acme-admin"), id_of("acme-user"));

    // Not themselves.
    for change in ["disable", "make-member"] {
        let reply = server
            .call(
                ACME,
                "change-user",
                &[("user_id", &admin_id), ("change", change)],
                Some(&admin),
            )
            .await;
        reply.assert_refused(&["Invalid"]);
        assert!(reply.error_message().contains("your own account"));
    }
    assert_eq!(
        principal(&server, ACME, &admin).await["Tenant"]["role"],
        "Admin"
    );
    // An unknown change is refused.
    server
        .call(
            ACME,
            "change-user",
            &[("user_id", &user_id), ("change", "make-god")],
            Some(&admin),
        )
        .await
        .assert_refused(&["Invalid"]);

    server
        .call(
            ACME,
            "change-user",
            &[("user_id", &user_id), ("change", "disable")],
            Some(&admin),
        )
        .await
        .assert_ok();
    assert_eq!(principal(&server, ACME, &user).await, Value::Null);
    let home = server.get(ACME, "/", Some(&user)).await;
    assert_eq!(who(&home.body), None);
    let refused = server
        .call(
            ACME,
            "login",
            &[("username", "acme-user"), ("password", PASSWORD)],
            None,
        )
        .await;
    refused.assert_refused(&["Unauthenticated"]);
    assert!(refused.error_message().contains("disabled"));
    assert!(refused.session.is_none());
    let users = rows(&server.call(ACME, "list-users", &[], Some(&admin)).await);
    assert!(users
        .iter()
        .any(|u| u["username"] == "acme-user" && u["disabled"] == true));

    server
        .call(
            ACME,
            "change-user",
            &[("user_id", &user_id), ("change", "enable")],
            Some(&admin),
        )
        .await
        .assert_ok();
    // The old session stays ended; a new login works.
    assert_eq!(principal(&server, ACME, &user).await, Value::Null);
    server.login(ACME, "acme-user", PASSWORD).await;
    let audit = rows(&server.call(ACME, "audit-entries", &[], Some(&admin)).await);
    for action in ["user.disable", "user.enable"] {
        assert!(
            audit.iter().any(|e| e["action"] == action
                && e["target"] == "acme-user"
                && e["actor"] == "acme-admin"),
            "{action} audited"
        );
    }
}

/// Creating a user with a weak password, a bad name, a taken name (any case) or an unknown role
/// gives a clear 4xx error and creates nothing; a member may not create users at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_new_users_are_refused_and_nothing_is_created() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let admin = server.login(ACME, "acme-admin", PASSWORD).await;
    let member = server.login(ACME, "acme-user", PASSWORD).await;
    let before = usernames_in(ctx, "tenant_1003").await;

    let cases: [(&str, &str, &str, &str, &str); 6] = [
        ("alice", "short1", "member", "Invalid", "too weak"),
        (
            "alice",
            "no-digits-in-here",
            "member",
            "Invalid",
            "too weak",
        ),
        (
            "alice",
            "alice-password-42",
            "member",
            "Invalid",
            "user name",
        ),
        ("a b", PASSWORD, "member", "Invalid", "user name"),
        (
            "ACME-USER",
            PASSWORD,
            "member",
            "Conflict",
            "already exists",
        ),
        ("alice", PASSWORD, "owner", "Invalid", "role"),
    ];
    for (username, password, role, kind, words) in cases {
        let reply = server
            .call(
                ACME,
                "create-user",
                &[
                    ("username", username),
                    ("password", password),
                    ("role", role),
                ],
                Some(&admin),
            )
            .await;
        reply.assert_refused(&[kind]);
        assert!(
            reply.error_message().contains(words),
            "{username}/{password}/{role}: {}",
            reply.body
        );
        assert_eq!(usernames_in(ctx, "tenant_1003").await, before, "{username}");
    }
    server
        .call(
            ACME,
            "create-user",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("role", "member"),
            ],
            Some(&member),
        )
        .await
        .assert_refused(&["Forbidden"]);
    server
        .call(
            ACME,
            "create-user",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("role", "member"),
            ],
            None,
        )
        .await
        .assert_refused(&["Unauthenticated"]);
    assert_eq!(usernames_in(ctx, "tenant_1003").await, before);

    // A good one is created, can sign in, and is audited.
    server
        .call(
            ACME,
            "create-user",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("role", "member"),
            ],
            Some(&admin),
        )
        .await
        .assert_ok();
    assert_eq!(
        usernames_in(ctx, "tenant_1003").await,
        vec!["acme-admin", "acme-user", "alice"]
    );
    server.login(ACME, "Alice", PASSWORD).await;
    // Not in Globex.
    assert!(!usernames_in(ctx, "tenant_1004")
        .await
        .contains(&"alice".to_string()));
}

/// Making a member an admin gives their existing session admin rights at once (list-users);
/// making them a member again takes the rights away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_roling_a_member_to_admin_grants_user_management() {
    let server = start_server(seeded_ctx().await).await;
    let admin = server.login(ACME, "acme-admin", PASSWORD).await;
    let user = server.login(ACME, "acme-user", PASSWORD).await;
    server
        .call(ACME, "list-users", &[], Some(&user))
        .await
        .assert_refused(&["Forbidden"]);
    let users = rows(&server.call(ACME, "list-users", &[], Some(&admin)).await);
    let user_id = users.iter().find(|u| u["username"] == "acme-user").unwrap()["id"].to_string();

    server
        .call(
            ACME,
            "change-user",
            &[("user_id", &user_id), ("change", "make-admin")],
            Some(&admin),
        )
        .await
        .assert_ok();
    let listed = server.call(ACME, "list-users", &[], Some(&user)).await;
    listed.assert_ok();
    assert!(listed.body.contains("acme-admin"));
    server
        .call(ACME, "audit-entries", &[], Some(&user))
        .await
        .assert_ok();

    server
        .call(
            ACME,
            "change-user",
            &[("user_id", &user_id), ("change", "make-member")],
            Some(&admin),
        )
        .await
        .assert_ok();
    server
        .call(ACME, "list-users", &[], Some(&user))
        .await
        .assert_refused(&["Forbidden"]);
    let audit = rows(&server.call(ACME, "audit-entries", &[], Some(&admin)).await);
    assert_eq!(
        audit
            .iter()
            .filter(|e| e["action"] == "user.role" && e["target"] == "acme-user")
            .count(),
        2
    );
}

/// Sign-up on the free console creates a member of the free edition and signs them in; bad
/// input and taken names are refused; sign-up anywhere else is refused and creates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_console_sign_up_creates_a_signed_in_member_and_only_there() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let signed = server
        .call(
            FREE,
            "sign-up",
            &[("username", "newbie"), ("password", PASSWORD)],
            None,
        )
        .await;
    signed.assert_ok();
    let session = signed.session.clone().expect("sign-up signs in");
    let who_am_i = principal(&server, FREE, &session).await;
    assert_eq!(who_am_i["Tenant"]["username"], "newbie");
    assert_eq!(who_am_i["Tenant"]["role"], "Member");
    let home = server.get(FREE, "/", Some(&session)).await;
    assert!(home.body.contains("Your free space"));
    assert_eq!(who(&home.body).as_deref(), Some("newbie"));
    assert_eq!(usernames_in(ctx, "tenant_1002").await, vec!["newbie"]);
    // A member of the free edition manages nobody.
    server
        .call(FREE, "list-users", &[], Some(&session))
        .await
        .assert_refused(&["Forbidden"]);
    // The session is the free console's only.
    assert_eq!(principal(&server, ACME, &session).await, Value::Null);

    for (username, password, kind) in [
        ("NEWBIE", PASSWORD, "Conflict"),
        ("other", "weak", "Invalid"),
        ("x", PASSWORD, "Invalid"),
    ] {
        let reply = server
            .call(
                FREE,
                "sign-up",
                &[("username", username), ("password", password)],
                None,
            )
            .await;
        reply.assert_refused(&[kind]);
        assert!(reply.session.is_none());
    }
    assert_eq!(usernames_in(ctx, "tenant_1002").await, vec!["newbie"]);

    let acme_before = usernames_in(ctx, "tenant_1003").await;
    let platform_before = footprint(ctx).await.platform_users;
    let refused = server
        .call(
            ACME,
            "sign-up",
            &[("username", "intruder"), ("password", PASSWORD)],
            None,
        )
        .await;
    refused.assert_refused(&["Forbidden"]);
    assert!(refused.error_message().contains("free edition"));
    assert!(refused.session.is_none());
    // Hosts without a tenant: nothing to sign up to.
    for host in [CONSOLE, "localhost"] {
        let reply = server
            .call(
                host,
                "sign-up",
                &[("username", "intruder"), ("password", PASSWORD)],
                None,
            )
            .await;
        reply.assert_refused(&["Forbidden", "NotFound"]);
        assert!(reply.session.is_none());
    }
    assert_eq!(usernames_in(ctx, "tenant_1003").await, acme_before);
    assert_eq!(footprint(ctx).await.platform_users, platform_before);
    for schema in tenant_schemas(ctx).await {
        assert!(!usernames_in(ctx, &schema)
            .await
            .contains(&"intruder".to_string()));
    }
}

/// Logging out ends the session on the server: the old cookie is anonymous afterwards, the
/// response clears the cookie, and the logout is audited. Other sessions of the user live on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session() {
    let server = start_server(seeded_ctx().await).await;
    let session = server.login(ACME, "acme-admin", PASSWORD).await;
    let other = server.login(ACME, "acme-admin", PASSWORD).await;
    server
        .call(ACME, "list-users", &[], Some(&session))
        .await
        .assert_ok();

    let out = server.call(ACME, "logout", &[], Some(&session)).await;
    assert!(out.status < 400, "{} {}", out.status, out.body);
    assert!(out.session.is_none(), "the cookie is cleared, not renewed");

    assert_eq!(principal(&server, ACME, &session).await, Value::Null);
    server
        .call(ACME, "list-users", &[], Some(&session))
        .await
        .assert_refused(&["Unauthenticated"]);
    let home = server.get(ACME, "/", Some(&session)).await;
    assert_eq!(who(&home.body), None);

    let audit = rows(&server.call(ACME, "audit-entries", &[], Some(&other)).await);
    assert!(audit
        .iter()
        .any(|e| e["action"] == "logout" && e["actor"] == "acme-admin"));

    // The console's logout works the same way.
    let console = server.login(CONSOLE, "superadmin", PASSWORD).await;
    server.call(CONSOLE, "logout", &[], Some(&console)).await;
    server
        .call(CONSOLE, "list-tenants", &[], Some(&console))
        .await
        .assert_refused(&["Unauthenticated"]);
}

/// The session cookie is host-only (no Domain), HttpOnly, SameSite=Lax, expires; the server keeps
/// only a hash of its value, in the realm of the host that issued it; logout expires the cookie.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookies_are_host_only_http_only_and_stored_hashed() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let login = server
        .call(
            ACME,
            "login",
            &[("username", "acme-admin"), ("password", PASSWORD)],
            None,
        )
        .await;
    login.assert_ok();
    let token = login.session.clone().unwrap();
    assert!(token.len() >= 32, "a long random token");
    let cookie = login
        .set_cookies
        .iter()
        .find(|c| c.starts_with("execgov_session="))
        .unwrap()
        .to_ascii_lowercase();
    for attribute in ["httponly", "samesite=lax", "path=/", "max-age="] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("domain="), "host-only: {cookie}");

    let stored = |sql: &'static str| {
        let token = token.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(token)
                .fetch_one(&ctx.pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        stored("SELECT count(*) FROM tenant_1003.sessions WHERE token_hash = $1").await,
        0,
        "the raw token is not stored"
    );
    assert_eq!(
        stored(
            "SELECT count(*) FROM tenant_1003.sessions \
             WHERE token_hash = encode(sha256(convert_to($1, 'UTF8')), 'hex')"
        )
        .await,
        1,
        "its hash is, in Acme's schema"
    );
    for other in [
        "SELECT count(*) FROM tenant_1004.sessions \
         WHERE token_hash = encode(sha256(convert_to($1, 'UTF8')), 'hex')",
        "SELECT count(*) FROM public.platform_sessions \
         WHERE token_hash = encode(sha256(convert_to($1, 'UTF8')), 'hex')",
    ] {
        assert_eq!(stored(other).await, 0, "{other}");
    }

    let out = server.call(ACME, "logout", &[], Some(&token)).await;
    let cleared = out
        .set_cookies
        .iter()
        .find(|c| c.starts_with("execgov_session="))
        .expect("logout sets the cookie")
        .to_ascii_lowercase();
    assert!(cleared.contains("max-age=0"), "{cleared}");
    assert_eq!(
        stored(
            "SELECT count(*) FROM tenant_1003.sessions \
             WHERE token_hash = encode(sha256(convert_to($1, 'UTF8')), 'hex')"
        )
        .await,
        0,
        "logout deletes the session"
    );
}

/// An expired session is anonymous, and the next sign-in in that tenant deletes its row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_anonymous_and_swept_at_the_next_sign_in() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let stale = server.login(ACME, "acme-user", PASSWORD).await;
    assert!(!principal(&server, ACME, &stale).await.is_null());
    // The application role owns the tenant roles, so it may age the session directly.
    sqlx::query("UPDATE tenant_1003.sessions SET expires_at = now() - interval '1 minute'")
        .execute(&ctx.pool)
        .await
        .unwrap();
    assert!(principal(&server, ACME, &stale).await.is_null());
    assert_eq!(
        count(ctx, "SELECT count(*) FROM tenant_1003.sessions").await,
        1
    );
    server.login(ACME, "acme-admin", PASSWORD).await;
    assert_eq!(
        count(
            ctx,
            "SELECT count(*) FROM tenant_1003.sessions WHERE expires_at < now()"
        )
        .await,
        0
    );
    assert_eq!(
        count(ctx, "SELECT count(*) FROM tenant_1003.sessions").await,
        1
    );
}

/// Without JavaScript the sign-in form is a plain form post: a refusal redirects back to the
/// page, which then shows the reason (and nobody is signed in).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_refused_without_javascript_shows_its_reason() {
    let server = start_server(seeded_ctx().await).await;
    let response = server
        .client
        .post(format!("http://{}/api/login", server.addr))
        .header(reqwest::header::HOST, ACME)
        .header(reqwest::header::ACCEPT, "text/html")
        .header(reqwest::header::REFERER, format!("http://{ACME}/"))
        .form(&[
            ("username", "acme-admin"),
            ("password", "not-the-password-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 302);
    assert!(response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .is_none());
    let location = response.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    let path = location
        .strip_prefix(&format!("http://{ACME}"))
        .unwrap_or_else(|| panic!("redirected back to the page, not {location}"));
    let page = server.get(ACME, path, None).await;
    assert!(
        page.body.contains("Wrong user name or password."),
        "{}",
        page.body
    );
    assert_eq!(who(&page.body), None);
}
