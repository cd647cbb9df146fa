mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_hosts_answer_and_unknown_hosts_get_404() {
    let server = start_server(seeded_ctx().await).await;
    for host in [
        "admin.localhost",
        "acme.localhost",
        "globex.localhost:3000",
        "free.localhost",
        "localhost",
    ] {
        assert_eq!(server.get(host, "/", None).await.status, 200, "{host}");
    }
    let unknown = server.get("nobody.localhost", "/", None).await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("This address is not bound"));
    let session = server.login("acme.localhost", "acme-admin", PASSWORD).await;
    let users = server
        .call("acme.localhost", "list-users", &[], Some(&session))
        .await;
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(users.body.contains("acme-user"));
}
