//! The run path over HTTP: artifacts, event streams and execution pages belong to the tenant and
//! the people who may see the execution; everyone else gets "not found" (or must sign in).
mod common;

use std::collections::BTreeMap;

use common::*;
use domain::accounts::{self, Realm};
use domain::executions::{self, QueuePolicy, Upload};
use domain::Actor;
use engine::{Executors, SandboxConfig};

const ACME: &str = "acme.localhost";
const GLOBEX: &str = "globex.localhost";

/// Acme's member runs the CSV summary; returns the execution id once it has succeeded.
async fn finished_acme_run(ctx: &domain::Ctx) -> i64 {
    let acme = tenant_of(ctx, ACME).await;
    let session = accounts::login(
        ctx,
        Realm::Tenant(&acme),
        "acme-user",
        PASSWORD.into(),
        &Default::default(),
    )
    .await
    .unwrap();
    let user = accounts::session_user(ctx, Realm::Tenant(&acme), &session.token)
        .await
        .unwrap()
        .unwrap();
    let actor = Actor {
        name: "acme-user".into(),
        meta: Default::default(),
    };
    let files = [Upload {
        field: "data".into(),
        file_name: "sales.csv".into(),
        bytes: b"region,amount\nnorth,10\nsouth,20\n".to_vec(),
    }];
    let id = executions::request(
        ctx,
        &acme,
        &user,
        &actor,
        "csv-summary",
        &BTreeMap::new(),
        &files,
    )
    .await
    .unwrap();
    let executors = Executors::new(SandboxConfig {
        first_uid: 63500,
        uid_slots: 2,
        ..SandboxConfig::default()
    });
    let policy = QueuePolicy::default();
    let claimed = executions::claim_next(ctx, "w", &policy)
        .await
        .unwrap()
        .unwrap();
    executions::run_claimed(ctx, &executors, claimed, "w", &policy)
        .await
        .unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_and_artifacts_are_only_for_those_who_may_see_them() {
    let server = start_server(seeded_ctx().await).await;
    let id = finished_acme_run(&server.ctx).await;
    let artifact = format!("/executions/{id}/artifacts/report.md");
    let events = format!("/executions/{id}/events");

    // The requester downloads the report, and the download is audited.
    let owner = server.login(ACME, "acme-user", PASSWORD).await;
    let download = server.get(ACME, &artifact, Some(&owner)).await;
    assert_eq!(download.status, 200);
    assert!(download.body.contains("sales.csv"), "{}", download.body);
    assert_eq!(
        count(
            &server.ctx,
            &format!("SELECT count(*) FROM tenant_1003.audit_log WHERE action = 'artifact.download' AND target = 'execution {id}'")
        )
        .await,
        1
    );
    let page = server
        .call(
            ACME,
            "get-execution",
            &[("id", &id.to_string())],
            Some(&owner),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);

    // Globex, with its own users or with acme's cookie: nothing.
    let globex = server.login(GLOBEX, "globex-admin", PASSWORD).await;
    for session in [Some(globex.as_str()), Some(owner.as_str()), None] {
        for path in [&artifact, &events] {
            let reply = server.get(GLOBEX, path, session).await;
            assert!(
                [401, 404].contains(&reply.status),
                "{path} on globex: {} {}",
                reply.status,
                reply.body
            );
            assert!(!reply.body.contains("sales.csv"));
        }
        server
            .call(GLOBEX, "get-execution", &[("id", &id.to_string())], session)
            .await
            .assert_refused(&["NotFound", "Unauthenticated"]);
    }

    // Another Acme member: not theirs, so not found; anonymous on Acme: must sign in.
    let ctx = &server.ctx;
    let acme = tenant_of(ctx, ACME).await;
    accounts::create_user(
        ctx,
        &acme,
        &Actor::system(),
        "acme-other",
        PASSWORD.into(),
        model::TenantRole::Member,
    )
    .await
    .unwrap();
    let other = server.login(ACME, "acme-other", PASSWORD).await;
    for path in [&artifact, &events] {
        assert_eq!(
            server.get(ACME, path, Some(&other)).await.status,
            404,
            "{path}"
        );
        assert_eq!(server.get(ACME, path, None).await.status, 401, "{path}");
    }
    // An admin of the tenant may.
    let admin = server.login(ACME, "acme-admin", PASSWORD).await;
    assert_eq!(server.get(ACME, &artifact, Some(&admin)).await.status, 200);
    // A path that is not one of its artifacts is not served, whatever it names (encoded slashes
    // reach the server as they are; a client would normalise plain `..` away).
    for path in [
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "report.md%2F..%2Freport.md",
        "nothing.md",
    ] {
        let reply = server
            .get(
                ACME,
                &format!("/executions/{id}/artifacts/{path}"),
                Some(&owner),
            )
            .await;
        assert_eq!(reply.status, 404, "{path}");
    }
}
