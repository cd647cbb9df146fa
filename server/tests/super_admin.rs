//! Super-admins are recognised by the explicit marker only: not by being the first platform user
//! (id 1), not by a name, not by being an admin somewhere else.

mod common;

use common::*;
use domain::accounts::create_platform_user;
use domain::Actor;
use model::Surface;

const CONSOLE: &str = "admin.localhost";

fn new_tenant_form<'a>(name: &'a str, host: &'a str, admin: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("host", host),
        ("admin_username", admin),
        ("admin_password", PASSWORD),
    ]
}

/// In a fresh install the very first platform user (id 1) created without the marker gets no
/// console rights: listing and creating tenants are refused and nothing is created. A user
/// created later with the marker may do both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_platform_user_without_the_marker_is_not_a_super_admin() {
    let ctx = fresh_ctx().await;
    let actor = Actor::system();
    let first = create_platform_user(&ctx, &actor, "admin", PASSWORD.into(), false)
        .await
        .unwrap();
    assert_eq!(
        first, 1,
        "the plain user must be the very first platform user"
    );
    domain::tenancy::bind_platform_host(&ctx, &actor, CONSOLE, Surface::PublicConsole)
        .await
        .unwrap();
    let server = start_server(ctx).await;
    let ctx = &server.ctx;

    let plain = server.login(CONSOLE, "admin", PASSWORD).await;
    let home = server.get(CONSOLE, "/", Some(&plain)).await;
    assert!(home.body.contains("No platform access"), "{}", home.body);
    assert!(!home.body.contains(r#"href="/tenants""#));
    let session = server
        .call(CONSOLE, "current-session", &[], Some(&plain))
        .await;
    assert_eq!(
        session.json()["principal"]["Platform"]["super_admin"],
        false
    );

    let before = footprint(ctx).await;
    server
        .call(CONSOLE, "list-tenants", &[], Some(&plain))
        .await
        .assert_refused(&["Forbidden"]);
    let create = server
        .call(
            CONSOLE,
            "create-tenant",
            &new_tenant_form("Initech", "initech.localhost", "initech-admin"),
            Some(&plain),
        )
        .await;
    create.assert_refused(&["Forbidden"]);
    assert!(create.error_message().contains("super-admin"));
    server
        .call(CONSOLE, "get-tenant", &[("id", "1003")], Some(&plain))
        .await
        .assert_refused(&["Forbidden"]);
    server
        .call(CONSOLE, "audit-entries", &[], Some(&plain))
        .await
        .assert_refused(&["Forbidden"]);
    server
        .call(CONSOLE, "login-entries", &[], Some(&plain))
        .await
        .assert_refused(&["Forbidden"]);
    assert_eq!(footprint(ctx).await, before, "nothing was created");
    let tenants_page = server.get(CONSOLE, "/tenants", Some(&plain)).await;
    assert!(tenants_page.body.contains("Not allowed"));

    // A later user with the marker may govern.
    let later = create_platform_user(ctx, &Actor::system(), "root", PASSWORD.into(), true)
        .await
        .unwrap();
    assert!(later > first);
    let root = server.login(CONSOLE, "root", PASSWORD).await;
    server
        .call(CONSOLE, "list-tenants", &[], Some(&root))
        .await
        .assert_ok();
    let created = server
        .call(
            CONSOLE,
            "create-tenant",
            &new_tenant_form("Initech", "initech.localhost", "initech-admin"),
            Some(&root),
        )
        .await;
    created.assert_ok();
    assert_eq!(created.json(), 1003, "the first shared-SaaS tenant is 1003");
    let list = server.call(CONSOLE, "list-tenants", &[], Some(&root)).await;
    assert!(list.body.contains("initech.localhost"));
    // The plain user still cannot, even now that tenants exist.
    server
        .call(CONSOLE, "list-tenants", &[], Some(&plain))
        .await
        .assert_refused(&["Forbidden"]);
}

/// A tenant admin who happens to be called "superadmin" is an admin of their tenant and nothing
/// more: console endpoints are refused on their tenant's host, and their cookie is nobody on the
/// console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_named_superadmin_gets_no_console_rights() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    domain::tenancy::provision_tenant(
        ctx,
        &Actor::system(),
        domain::tenancy::NewTenant {
            name: "Impostor".into(),
            host: "impostor.localhost".into(),
            admin_username: "superadmin".into(),
            admin_password: PASSWORD.into(),
        },
    )
    .await
    .unwrap();
    let session = server
        .login("impostor.localhost", "superadmin", PASSWORD)
        .await;
    // An admin of their own tenant…
    server
        .call("impostor.localhost", "list-users", &[], Some(&session))
        .await
        .assert_ok();
    let before = footprint(ctx).await;
    for host in ["impostor.localhost", CONSOLE] {
        for (endpoint, form) in [
            ("list-tenants", vec![]),
            ("get-tenant", vec![("id", "1003")]),
            (
                "create-tenant",
                new_tenant_form("Hooli", "hooli.localhost", "hooli-admin"),
            ),
            (
                "set-tenant-active",
                vec![("id", "1003"), ("active", "false")],
            ),
        ] {
            let reply = server.call(host, endpoint, &form, Some(&session)).await;
            reply.assert_refused(&["Unauthenticated", "Forbidden"]);
            assert!(!reply.body.contains("Acme"), "{endpoint} on {host}");
        }
    }
    assert_eq!(footprint(ctx).await, before);
    assert!(tenant_of(ctx, "acme.localhost").await.active);
    let console_home = server.get(CONSOLE, "/", Some(&session)).await;
    assert!(console_home.body.contains("Public console: sign in"));
    assert_eq!(who(&console_home.body), None);
    // …while the real super-admin of that name, on the console, may govern.
    let real = server.login(CONSOLE, "superadmin", PASSWORD).await;
    server
        .call(CONSOLE, "list-tenants", &[], Some(&real))
        .await
        .assert_ok();
    // …but the real one's cookie means nothing on the impostor's tenant.
    let s = server
        .call("impostor.localhost", "current-session", &[], Some(&real))
        .await;
    assert_eq!(s.json()["principal"], serde_json::Value::Null);
}
