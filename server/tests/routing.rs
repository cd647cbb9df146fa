//! The Host decides everything: which surface a request sees, which tenant, or a clear 404 when
//! the Host is not bound. Driven through the real router over HTTP.

mod common;

use common::*;

/// Each bound host's home page renders its own surface, and nothing of another surface.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_host_renders_its_own_surface() {
    let server = start_server(seeded_ctx().await).await;

    let acme = server.get("acme.localhost", "/", None).await;
    assert_eq!(acme.status, 200);
    assert!(acme.body.contains(r#"data-testid="tenant-name">Acme<"#));
    assert!(acme.body.contains("Sign in to use this tenant"));
    assert!(!acme.body.contains("Globex"));

    let globex = server.get("globex.localhost", "/", None).await;
    assert_eq!(globex.status, 200);
    assert!(globex.body.contains(r#"data-testid="tenant-name">Globex<"#));
    assert!(!globex.body.contains("Acme"));

    let console = server.get("admin.localhost", "/", None).await;
    assert_eq!(console.status, 200);
    assert!(console.body.contains("Public console: sign in"));
    assert!(console.body.contains(r#"action="/api/login""#));
    assert!(!console.body.contains("tenant-name"));

    let free = server.get("free.localhost", "/", None).await;
    assert_eq!(free.status, 200);
    assert!(free.body.contains("ExecGov free edition"));
    assert!(free.body.contains(r#"href="/signup""#));

    let experience = server.get("localhost", "/", None).await;
    assert_eq!(experience.status, 200);
    assert!(experience.body.contains("Run scripts under governance"));
    assert!(
        !experience.body.contains(r#"action="/api/login""#),
        "the experience page has no sign-in"
    );

    // Pages belong to surfaces: the console's tenant list is "not found" on a tenant front,
    // and sign-up exists only on the free console.
    assert_eq!(
        server.get("acme.localhost", "/tenants", None).await.status,
        404
    );
    assert_eq!(
        server.get("acme.localhost", "/signup", None).await.status,
        404
    );
    assert_eq!(
        server.get("free.localhost", "/signup", None).await.status,
        200
    );
}

/// Host matching ignores case, the port and a trailing dot: they reach the same tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_matching_ignores_case_and_port() {
    let server = start_server(seeded_ctx().await).await;
    for host in [
        "ACME.LOCALHOST:1234",
        "Acme.Localhost",
        "acme.localhost:80",
        "acme.localhost.",
    ] {
        let reply = server.get(host, "/", None).await;
        assert_eq!(reply.status, 200, "{host}");
        assert!(
            reply.body.contains(r#"data-testid="tenant-name">Acme<"#),
            "{host} should show Acme"
        );
    }
    // A session made on one spelling works on another: it is the same host.
    let session = server
        .login("ACME.LOCALHOST:1234", "acme-admin", PASSWORD)
        .await;
    server
        .call("acme.localhost", "list-users", &[], Some(&session))
        .await
        .assert_ok();
}

/// An unknown Host gets a 404 "not bound" page on every path and method, never a default
/// tenant; `/healthz` answers 200 on any Host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_hosts_get_404_on_every_path_and_healthz_answers_everywhere() {
    let server = start_server(seeded_ctx().await).await;
    for host in [
        "nobody.localhost",
        "acme.localhost.evil.example",
        "evil-acme.localhost",
        "bad_host",
        "acme.localhost:notaport",
        "127.0.0.1",
    ] {
        for path in [
            "/",
            "/login",
            "/tenants",
            "/pkg/execgov.js",
            "/pkg/execgov.css",
        ] {
            let reply = server.get(host, path, None).await;
            assert_eq!(reply.status, 404, "GET {path} on {host}");
            assert!(
                reply.body.contains("This address is not bound"),
                "GET {path} on {host}: {}",
                reply.body
            );
        }
        let login = server
            .call(
                host,
                "login",
                &[("username", "acme-admin"), ("password", PASSWORD)],
                None,
            )
            .await;
        assert_eq!(login.status, 404, "POST /api/login on {host}");
        assert!(login.body.contains("This address is not bound"));
        assert!(login.session.is_none(), "no session on an unknown host");
        let post = server.post(host, "/api/list-tenants").await;
        assert_eq!(post.status, 404);
        assert!(post.body.contains("This address is not bound"));

        let health = server.get(host, "/healthz", None).await;
        assert_eq!(health.status, 200, "/healthz on {host}");
    }
    for host in [
        "acme.localhost",
        "admin.localhost",
        "free.localhost",
        "localhost",
    ] {
        assert_eq!(
            server.get(host, "/healthz", None).await.status,
            200,
            "{host}"
        );
    }
    // The static bundle is served on bound hosts.
    assert_eq!(
        server
            .get("acme.localhost", "/pkg/execgov.css", None)
            .await
            .status,
        200
    );
}

/// A disabled tenant's host shows a "suspended" page (403) on every path and refuses logins and
/// existing sessions; enabling it again restores it at once (the host cache is invalidated).
/// Other tenants are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_tenant_is_suspended_until_enabled_again() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let acme = tenant_of(ctx, "acme.localhost").await;
    let session = server.login("acme.localhost", "acme-admin", PASSWORD).await;
    // Warm the host cache so that a stale entry would show.
    assert_eq!(server.get("acme.localhost", "/", None).await.status, 200);

    domain::tenancy::set_tenant_active(ctx, &domain::Actor::system(), acme.id, false)
        .await
        .unwrap();

    for path in ["/", "/login", "/users"] {
        let page = server.get("acme.localhost", path, None).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(page.body.contains("Suspended"), "{path}: {}", page.body);
        assert!(page.body.contains("Acme is suspended"));
    }
    let login = server
        .call(
            "acme.localhost",
            "login",
            &[("username", "acme-admin"), ("password", PASSWORD)],
            None,
        )
        .await;
    assert_eq!(login.status, 403);
    assert!(login.body.contains("suspended"));
    assert!(login.session.is_none());
    let users = server
        .call("acme.localhost", "list-users", &[], Some(&session))
        .await;
    assert_eq!(users.status, 403);
    assert!(!users.body.contains("acme-user"));
    // The domain refuses too, whoever calls it.
    let suspended = tenant_of(ctx, "acme.localhost").await;
    assert!(!suspended.active);
    let err = domain::accounts::login(
        ctx,
        domain::accounts::Realm::Tenant(&suspended),
        "acme-admin",
        PASSWORD.into(),
        &Default::default(),
    )
    .await
    .expect_err("login on a suspended tenant");
    assert!(matches!(err, domain::AppError::Forbidden(_)), "{err:?}");
    // Globex is not affected.
    server
        .login("globex.localhost", "globex-admin", PASSWORD)
        .await;
    // The console shows the status.
    let console = server
        .login("admin.localhost", "superadmin", PASSWORD)
        .await;
    let tenants = server
        .call("admin.localhost", "list-tenants", &[], Some(&console))
        .await;
    tenants.assert_ok();
    let acme_row = tenants
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Acme")
        .cloned()
        .unwrap();
    assert_eq!(acme_row["status"], "disabled");

    // Enable again, this time through the console.
    let id = acme.id.to_string();
    server
        .call(
            "admin.localhost",
            "set-tenant-active",
            &[("id", &id), ("active", "true")],
            Some(&console),
        )
        .await
        .assert_ok();
    let home = server.get("acme.localhost", "/", None).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains(r#"data-testid="tenant-name">Acme<"#));
    let again = server.login("acme.localhost", "acme-admin", PASSWORD).await;
    server
        .call("acme.localhost", "list-users", &[], Some(&again))
        .await
        .assert_ok();
    // Both changes are in the platform audit log.
    let actions: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, action FROM public.platform_audit \
         WHERE action IN ('tenant.disable', 'tenant.enable') AND target = 'Acme' ORDER BY id",
    )
    .fetch_all(&ctx.pool)
    .await
    .unwrap();
    assert_eq!(
        actions,
        vec![
            ("system".to_string(), "tenant.disable".to_string()),
            ("superadmin".to_string(), "tenant.enable".to_string()),
        ]
    );
}

/// Another server process disabling a tenant (its own `Ctx` and host cache, the same database)
/// is seen here within moments: the change is announced and this process's cache forgets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_disabled_by_another_process_is_suspended_here_too() {
    let db = seeded_db().await;
    let other_process = db.ctx.clone();
    let here = domain::Ctx::new(
        domain::db::connect(db.options.clone(), 3).await.unwrap(),
        db.ctx.data_dir.clone(),
    );
    here.hosts.follow_changes(&here.pool).await.unwrap();
    let server = start_server(here).await;
    // Warm this process's cache.
    assert_eq!(server.get("acme.localhost", "/", None).await.status, 200);
    assert_eq!(server.get("acme.localhost", "/", None).await.status, 200);

    let acme = tenant_of(&other_process, "acme.localhost").await;
    domain::tenancy::set_tenant_active(&other_process, &domain::Actor::system(), acme.id, false)
        .await
        .unwrap();
    let mut status = 0;
    for _ in 0..50 {
        status = server.get("acme.localhost", "/", None).await.status;
        if status == 403 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 403, "still served from a stale cache after 5 s");

    domain::tenancy::set_tenant_active(&other_process, &domain::Actor::system(), acme.id, true)
        .await
        .unwrap();
    for _ in 0..50 {
        status = server.get("acme.localhost", "/", None).await.status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "still suspended after 5 s");
}

/// The REST API answers the host layer's refusals as problem details, not as the HTML pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_clients_get_problem_details_for_unbound_and_suspended_hosts() {
    let server = start_server(seeded_ctx().await).await;
    let problem = |reply: &Reply| -> serde_json::Value {
        assert!(
            reply.body.trim_start().starts_with('{'),
            "problem details, not HTML: {}",
            reply.body
        );
        reply.json()
    };
    let unbound = server.get("nobody.localhost", "/api/v1/me", None).await;
    assert_eq!(unbound.status, 404);
    assert_eq!(problem(&unbound)["status"], 404);
    assert!(problem(&unbound)["detail"]
        .as_str()
        .unwrap()
        .contains("not bound"));
    // People still get the page.
    let page = server.get("nobody.localhost", "/", None).await;
    assert!(page.body.contains("<h1>This address is not bound</h1>"));

    let acme = tenant_of(&server.ctx, "acme.localhost").await;
    domain::tenancy::set_tenant_active(&server.ctx, &domain::Actor::system(), acme.id, false)
        .await
        .unwrap();
    let suspended = server.get("acme.localhost", "/api/v1/skills", None).await;
    assert_eq!(suspended.status, 403);
    assert_eq!(problem(&suspended)["title"], "Forbidden");
    assert!(problem(&suspended)["detail"]
        .as_str()
        .unwrap()
        .contains("Acme is suspended"));
}
