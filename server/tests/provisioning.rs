//! Provisioning tenants: bad input is refused with a clear error and changes nothing; good input
//! gets the next number from 1003 up, its own schema, host binding and admin.

mod common;

use common::*;
use domain::tenancy::{provision_tenant, NewTenant};
use domain::{Actor, AppError};

fn new_tenant(name: &str, host: &str, admin: &str, password: &str) -> NewTenant {
    NewTenant {
        name: name.into(),
        host: host.into(),
        admin_username: admin.into(),
        admin_password: password.into(),
    }
}

/// Bad hosts, a taken host, a taken name (any case) and weak passwords each give the right
/// `AppError` variant with a message that says what is wrong, and leave tenants, schemas and
/// bindings exactly as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_clearly_and_changes_nothing() {
    let ctx = seeded_ctx().await;
    let before = footprint(&ctx).await;
    let actor = Actor::system();
    let audit_before = count(
        &ctx,
        "SELECT COALESCE(max(id), 0) FROM public.platform_audit",
    )
    .await;

    // (input, expected variant, words the message must contain)
    let cases: Vec<(NewTenant, &str, &str)> = vec![
        (
            new_tenant("Initech", "bad host!", "initech-admin", PASSWORD),
            "invalid",
            "not a valid host name",
        ),
        (
            new_tenant("Initech", "a..b", "initech-admin", PASSWORD),
            "invalid",
            "not a valid host name",
        ),
        (
            new_tenant("Initech", "initech.localhost/x", "initech-admin", PASSWORD),
            "invalid",
            "not a valid host name",
        ),
        (
            new_tenant("Initech", "acme.localhost", "initech-admin", PASSWORD),
            "conflict",
            "already bound",
        ),
        // Hosts are compared normalised: case and port do not make a new host.
        (
            new_tenant("Initech", "ACME.Localhost:8080", "initech-admin", PASSWORD),
            "conflict",
            "already bound",
        ),
        // A platform host is taken too.
        (
            new_tenant("Initech", "admin.localhost", "initech-admin", PASSWORD),
            "conflict",
            "already bound",
        ),
        (
            new_tenant("acme", "acme2.localhost", "initech-admin", PASSWORD),
            "conflict",
            "already exists",
        ),
        (
            new_tenant("  GLOBEX ", "globex2.localhost", "initech-admin", PASSWORD),
            "conflict",
            "already exists",
        ),
        (
            new_tenant("Initech", "initech.localhost", "initech-admin", "short1"),
            "invalid",
            "too weak",
        ),
        (
            new_tenant(
                "Initech",
                "initech.localhost",
                "initech-admin",
                "onlyletters-no-digits",
            ),
            "invalid",
            "too weak",
        ),
        (
            new_tenant(
                "Initech",
                "initech.localhost",
                "initech-admin",
                "my-initech-admin-42",
            ),
            "invalid",
            "user name",
        ),
        (
            new_tenant("Initech", "initech.localhost", "x", PASSWORD),
            "invalid",
            "user name",
        ),
        (
            new_tenant(" ", "initech.localhost", "initech-admin", PASSWORD),
            "invalid",
            "tenant name",
        ),
    ];
    let refusals = cases.len() as i64;
    for (input, want, words) in cases {
        let label = format!(
            "{:?} @ {:?} / {:?}",
            input.name, input.host, input.admin_password
        );
        let err = provision_tenant(&ctx, &actor, input)
            .await
            .expect_err(&format!("{label} must be refused"));
        let (variant, message) = match &err {
            AppError::Invalid(m) => ("invalid", m.as_str()),
            AppError::Conflict(m) => ("conflict", m.as_str()),
            other => panic!("{label}: unexpected error {other:?}"),
        };
        assert_eq!(variant, want, "{label}: {message}");
        assert!(
            message.contains(words),
            "{label}: message {message:?} should mention {words:?}"
        );
        assert_eq!(footprint(&ctx).await, before, "{label} changed something");
    }
    // No tenant.create succeeded; every refusal (invalid input or conflict) left exactly one
    // `failed` entry in the platform audit.
    assert_eq!(
        count(
            &ctx,
            &format!(
                "SELECT count(*) FROM public.platform_audit \
                 WHERE action = 'tenant.create' AND result = 'ok' AND id > {audit_before}"
            )
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM public.platform_audit \
             WHERE action = 'tenant.create' AND result = 'failed'"
        )
        .await,
        refusals
    );

    // The refusals did not consume tenant numbers: the next tenant after Acme (1003) and
    // Globex (1004) is 1005, then 1006.
    let initech = provision_tenant(
        &ctx,
        &actor,
        new_tenant(
            "Initech",
            "Initech.Localhost:3000",
            "initech-admin",
            PASSWORD,
        ),
    )
    .await
    .expect("a good tenant");
    assert_eq!(initech.id, 1005);
    assert_eq!(initech.schema.as_str(), "tenant_1005");
    let hooli = provision_tenant(
        &ctx,
        &actor,
        new_tenant("Hooli", "hooli.localhost", "hooli-admin", PASSWORD),
    )
    .await
    .expect("a second good tenant");
    assert_eq!(hooli.id, 1006);
    // The host was stored normalised.
    assert_eq!(
        tenant_of(&ctx, "initech.localhost").await.id,
        1005,
        "the host binding is stored lower-case without the port"
    );
    let after = footprint(&ctx).await;
    assert_eq!(after.tenants, before.tenants + 2);
    assert_eq!(after.bindings, before.bindings + 2);
    assert!(after.schemas.contains(&"tenant_1005".to_string()));
    assert!(after.schemas.contains(&"tenant_1006".to_string()));
}

/// The seed numbers tenants as the product says: free edition 1002, then Acme 1003, Globex 1004,
/// each with a schema `tenant_NNNN` of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_tenants_are_numbered_from_1003_with_their_own_schemas() {
    let ctx = seeded_ctx().await;
    let rows: Vec<(i64, String, String, String)> =
        sqlx::query_as("SELECT id, name, schema_name, edition FROM public.tenants ORDER BY id")
            .fetch_all(&ctx.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                1002,
                "Free edition".into(),
                "tenant_1002".into(),
                "free".into()
            ),
            (
                1003,
                "Acme".into(),
                "tenant_1003".into(),
                "shared_saas".into()
            ),
            (
                1004,
                "Globex".into(),
                "tenant_1004".into(),
                "shared_saas".into()
            ),
        ]
    );
    assert_eq!(
        tenant_schemas(&ctx).await,
        vec!["tenant_1002", "tenant_1003", "tenant_1004"]
    );
    assert_eq!(
        usernames_in(&ctx, "tenant_1003").await,
        vec!["acme-admin", "acme-user"]
    );
    assert_eq!(
        usernames_in(&ctx, "tenant_1004").await,
        vec!["globex-admin", "globex-user"]
    );
}

/// Two super-admins creating tenants with the same host at the same moment: exactly one wins,
/// the other gets a `Conflict`, and the loser leaves no schema, row or binding behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_provisioning_of_one_host_has_one_winner_and_no_leftovers() {
    let ctx = seeded_ctx().await;
    let before = footprint(&ctx).await;
    let actor = Actor::system();
    let (a, b) = tokio::join!(
        provision_tenant(
            &ctx,
            &actor,
            new_tenant("Initech", "contested.localhost", "initech-admin", PASSWORD),
        ),
        provision_tenant(
            &ctx,
            &actor,
            new_tenant("Hooli", "contested.localhost", "hooli-admin", PASSWORD),
        ),
    );
    let (winner, loser) = match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        (a, b) => panic!("expected exactly one success: {a:?} / {b:?}"),
    };
    assert!(
        matches!(&loser, AppError::Conflict(m) if m.contains("already")),
        "the loser should get a Conflict: {loser:?}"
    );
    let after = footprint(&ctx).await;
    assert_eq!(after.tenants, before.tenants + 1);
    assert_eq!(after.bindings, before.bindings + 1);
    let mut expected_schemas = before.schemas.clone();
    expected_schemas.push(winner.schema.as_str().to_string());
    expected_schemas.sort();
    assert_eq!(after.schemas, expected_schemas, "no orphan schema");
    assert_eq!(tenant_of(&ctx, "contested.localhost").await.id, winner.id);

    // Same name, different hosts: one wins, the other is told the name is taken.
    let before = footprint(&ctx).await;
    let (a, b) = tokio::join!(
        provision_tenant(
            &ctx,
            &actor,
            new_tenant("Umbrella", "umbrella1.localhost", "u-admin", PASSWORD),
        ),
        provision_tenant(
            &ctx,
            &actor,
            new_tenant("UMBRELLA", "umbrella2.localhost", "u-admin", PASSWORD),
        ),
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one should win: {a:?} / {b:?}"
    );
    let loser = a.err().or(b.err()).unwrap();
    assert!(
        matches!(&loser, AppError::Conflict(m) if m.contains("already exists")),
        "{loser:?}"
    );
    let after = footprint(&ctx).await;
    assert_eq!(after.tenants, before.tenants + 1);
    assert_eq!(after.bindings, before.bindings + 1);
    assert_eq!(after.schemas.len(), before.schemas.len() + 1);
}
