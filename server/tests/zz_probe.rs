mod common;
use common::*;

#[tokio::test]
async fn probe() {
    let s = start_server(seeded_ctx().await).await;
    let r = s.call("acme.localhost", "list-users", &[], None).await;
    println!("anon list-users: {} {}", r.status, r.body);
    let r = s
        .call(
            "acme.localhost",
            "login",
            &[("username", "acme-admin"), ("password", "nope-nope-1234")],
            None,
        )
        .await;
    println!("bad login: {} {}", r.status, r.body);
    let sess = s.login("acme.localhost", "acme-admin", PASSWORD).await;
    let r = s
        .call("acme.localhost", "list-users", &[], Some(&sess))
        .await;
    println!("list-users: {} {}", r.status, r.body);
    let r = s
        .call("acme.localhost", "list-tenants", &[], Some(&sess))
        .await;
    println!("list-tenants as acme: {} {}", r.status, r.body);
    let r = s
        .call(
            "acme.localhost",
            "sign-up",
            &[("username", "newbie"), ("password", "abcdefgh12345")],
            None,
        )
        .await;
    println!("sign-up acme: {} {}", r.status, r.body);
    let r = s
        .call(
            "free.localhost",
            "sign-up",
            &[("username", "newbie"), ("password", "abcdefgh12345")],
            None,
        )
        .await;
    println!("sign-up free: {} {} {:?}", r.status, r.body, r.session);
    let r = s
        .call(
            "acme.localhost",
            "create-user",
            &[
                ("username", "x"),
                ("password", "abcdefgh12345"),
                ("role", "member"),
            ],
            Some(&sess),
        )
        .await;
    println!("create-user bad: {} {}", r.status, r.body);
    let r = s
        .call("acme.localhost", "audit-entries", &[], Some(&sess))
        .await;
    println!("audit: {} {}", r.status, &r.body[..r.body.len().min(600)]);
    let r = s.call("acme.localhost", "logout", &[], Some(&sess)).await;
    println!("logout: {} {} {:?}", r.status, r.body, r.session);
    let r = s.get("acme.localhost", "/", None).await;
    println!("acme home: {} {}", r.status, r.body);
    let r = s.get("nobody.localhost", "/pkg/execgov.js", None).await;
    println!(
        "unknown js: {} {}",
        r.status,
        &r.body[..200.min(r.body.len())]
    );
    let r = s.get("acme.localhost", "/healthz", None).await;
    println!("healthz: {} {}", r.status, r.body);
    let r = s.get("admin.localhost", "/", None).await;
    println!("admin home: {} {}", r.status, r.body);
}
