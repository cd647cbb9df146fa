//! Sign-in throttling that cannot be turned against an account's owner, the client's address
//! behind trusted proxies only, and sign-in bursts that leave the server answering.
//!
//! Clients bind to addresses of their own in 127.0.0.0/8 (all loopback on Linux), so the server
//! sees several real peers.

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use domain::brain::embedded::Embedded;
use serde_json::Value;
use server::client::TrustedProxies;

const ACME: &str = "acme.localhost";
const CONSOLE: &str = "admin.localhost";
const WRONG: &str = "wrong-password-123";

/// The same server, reached from the loopback address `from`.
fn from(server: &TestServer, from: &str) -> TestServer {
    let mut other = TestServer::at(server.addr, server.ctx.clone());
    other.client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    other
}

async fn sign_in(server: &TestServer, host: &str, user: &str, password: &str) -> Reply {
    server
        .call(
            host,
            "login",
            &[("username", user), ("password", password)],
            None,
        )
        .await
}

/// `login` with an `X-Forwarded-For` header.
async fn sign_in_forwarded(server: &TestServer, forwarded_for: &str, password: &str) -> u16 {
    server
        .client
        .post(format!("http://{}/api/login", server.addr))
        .header(reqwest::header::HOST, ACME)
        .header(reqwest::header::ACCEPT, "application/json")
        .header("x-forwarded-for", forwarded_for)
        .form(&[("username", "acme-user"), ("password", password)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn login_entries(server: &TestServer, host: &str, admin: &str) -> Vec<Value> {
    let session = server.login(host, admin, PASSWORD).await;
    let reply = server
        .call(host, "login-entries", &[], Some(&session))
        .await;
    reply.assert_ok();
    reply.json().as_array().unwrap().clone()
}

/// An attacker's 100 failed sign-ins for `superadmin` from one address hold back only that
/// address (with a wait it is told); the real super-admin signs in from another at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attackers_failures_from_one_address_do_not_lock_out_the_owner() {
    let server = start_server(seeded_ctx().await).await;
    let attacker = from(&server, "127.0.0.2");
    let owner = from(&server, "127.0.0.3");

    let mut refused = 0;
    let started = std::time::Instant::now();
    for _ in 0..100 {
        let reply = sign_in(&attacker, CONSOLE, "superadmin", WRONG).await;
        match reply.error_kind().as_deref() {
            Some("Unauthenticated") => {}
            Some("TooManyRequests") => refused += 1,
            _ => panic!("{} {}", reply.status, reply.body),
        }
    }
    // 5 free failures, then the address waits 15 s, then 30 s, …: on a machine slow enough
    // that the 100 attempts take longer than a wait, one more attempt gets through per wait.
    let elapsed = started.elapsed().as_secs();
    let (mut passes, mut waited, mut wait) = (5, 0, 15);
    while waited + wait <= elapsed {
        (passes, waited, wait) = (passes + 1, waited + wait, wait * 2);
    }
    let failed = 100 - refused;
    assert!(
        (5..=passes).contains(&failed),
        "{failed} failures were checked in {elapsed} s: 5 free, then the address waits"
    );
    // Even the right password waits, from the attacker's address, and says how long.
    let held = sign_in(&attacker, CONSOLE, "superadmin", PASSWORD).await;
    held.assert_refused(&["TooManyRequests"]);
    assert!(
        held.error_message()
            .contains("for this user from your address. Try again in"),
        "{}",
        held.body
    );
    assert!(held.session.is_none());
    // And so does the header clients and proxies read: seconds, at most the longest wait.
    let retry_after: u64 = held
        .retry_after
        .as_deref()
        .expect("a 429 carries Retry-After")
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");

    let signed_in = sign_in(&owner, CONSOLE, "superadmin", PASSWORD).await;
    signed_in.assert_ok();
    assert!(signed_in.session.is_some());

    let log = login_entries(&owner, CONSOLE, "superadmin").await;
    let count = |ip: &str, reason: &str| {
        log.iter()
            .filter(|e| e["ip"] == ip && e["reason"] == reason)
            .count()
    };
    assert_eq!(count("127.0.0.2", "bad credentials"), failed);
    assert_eq!(count("127.0.0.2", "throttled"), refused + 1);
    assert_eq!(count("127.0.0.3", "ok"), 2);
}

/// Behind a trusted proxy, each forwarded client is throttled on its own; failures from many
/// addresses together slow the user's sign-ins but never refuse them. A peer that is not a
/// trusted proxy cannot choose its address with the header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_is_throttled_on_its_own() {
    let proxies: TrustedProxies = "127.0.0.1".parse().unwrap();
    let server = start_server_with(seeded_ctx().await, move |ctx, options| {
        server::router_with_brain(ctx, options, Arc::new(Embedded), proxies)
    })
    .await;

    // 21 addresses, 5 failures each: 105 failures of acme-user in all, past the point where its
    // sign-ins are slowed (by a second).
    for n in 1..=21 {
        let client = format!("203.0.113.{n}");
        for _ in 0..5 {
            assert_eq!(sign_in_forwarded(&server, &client, WRONG).await, 401);
        }
    }
    // The sixth from the last of them (within its 15 s wait) waits; a client the proxy forwards
    // from elsewhere does not, even if it writes that address further left.
    assert_eq!(
        sign_in_forwarded(&server, "203.0.113.21", PASSWORD).await,
        429
    );
    assert_eq!(
        sign_in_forwarded(&server, "203.0.113.21, 198.51.100.7", PASSWORD).await,
        200
    );
    // Another peer (not the trusted proxy) cannot pose as a fresh address.
    let stranger = from(&server, "127.0.0.4");
    for _ in 0..5 {
        assert_eq!(sign_in_forwarded(&stranger, "192.0.2.1", WRONG).await, 401);
    }
    assert_eq!(sign_in_forwarded(&stranger, "192.0.2.2", WRONG).await, 429);

    let log = login_entries(&server, ACME, "acme-admin").await;
    let ips = |reason: &str| -> Vec<String> {
        log.iter()
            .filter(|e| e["username"] == "acme-user" && e["reason"] == reason)
            .map(|e| e["ip"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(ips("ok"), vec!["198.51.100.7"]);
    assert!(ips("throttled").contains(&"203.0.113.21".to_string()));
    assert!(ips("throttled").contains(&"127.0.0.4".to_string()));
    assert!(!ips("bad credentials").contains(&"192.0.2.1".to_string()));
}

/// 200 concurrent sign-ins (each from its own address, each a full password check) queue for
/// hashing without holding database connections: `/healthz` and a signed-in page answer while
/// most of the burst is still waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_sign_ins_leaves_health_and_pages_answering() {
    let server = start_server(seeded_ctx().await).await;
    let session = server.login(ACME, "acme-user", PASSWORD).await;
    let done = Arc::new(AtomicUsize::new(0));
    let burst: Vec<_> = (0..200)
        .map(|i| {
            let client = from(&server, &format!("127.0.1.{}", i + 1));
            let done = done.clone();
            tokio::spawn(async move {
                let user = format!("burst-{i}");
                let reply = sign_in(&client, ACME, &user, WRONG).await;
                done.fetch_add(1, Ordering::SeqCst);
                reply.status
            })
        })
        .collect();
    // Let the burst reach the server first.
    while done.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let health = server.get("localhost", "/healthz", None).await;
    let done_at_health = done.load(Ordering::SeqCst);
    let page = server.get(ACME, "/", Some(&session)).await;
    let done_at_page = done.load(Ordering::SeqCst);
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(page.status, 200);
    assert_eq!(who(&page.body).as_deref(), Some("acme-user"));
    assert!(
        done_at_health < 100 && done_at_page < 100,
        "answered only after the burst: {done_at_health} and {done_at_page} of 200 sign-ins were done"
    );
    for task in burst {
        assert_eq!(task.await.unwrap(), 401);
    }
}
