//! Weights and quota over the legacy endpoints and the operator API:
//! recorded before they are answered, kept across a master restart,
//! honoured by the allocator, and bad requests refused with nothing changed.

mod common;

use common::{operator_call as op, request as send, *};
use mesos_types::scheduler::EventType;
use serde_json::{Value as Json, json};

async fn get_json(m: &mesos_master::MasterHandle, path: &str) -> Json {
    let r = reqwest::get(format!("http://{}{path}", m.addr))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().await.unwrap()
}

fn durable(dir: &tempfile::TempDir) -> Vec<String> {
    vec![
        "--registry=replicated_log".into(),
        format!("--work_dir={}", dir.path().display()),
    ]
}

async fn durable_master(flags: &[String]) -> mesos_master::MasterHandle {
    let f: Vec<&str> = flags.iter().map(String::as_str).collect();
    master(&f).await
}

#[tokio::test]
async fn weights_are_recorded_and_survive_a_master_restart() {
    let dir = tempfile::tempdir().unwrap();
    let flags = durable(&dir);
    let m = durable_master(&flags).await;
    let (s, _) = send(
        &m,
        "PUT",
        "/weights",
        r#"[{"role":"analytics","weight":2.5}]"#,
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = op(
        &m,
        json!({"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"web","weight":"4"}]}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let want = json!([{"role":"analytics","weight":2.5},{"role":"web","weight":4.0}]);
    assert_eq!(get_json(&m, "/weights").await, want);

    // Refused: nothing changes.
    for bad in [
        r#"[{"role":"web","weight":0}]"#,
        r#"[{"role":"web","weight":-1}]"#,
        r#"[{"role":"","weight":1}]"#,
        r#"[{"role":"a b","weight":1}]"#,
        r#"[{"role":"x","weight":1},{"role":"x","weight":2}]"#,
        r#"{"role":"web"}"#,
        "not json",
    ] {
        let (s, v) = send(&m, "PUT", "/weights", bad).await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|t| !t.is_empty()),
            "{bad}: {v}"
        );
    }
    assert_eq!(get_json(&m, "/weights").await, want);

    m.stop().await;
    let m = durable_master(&flags).await;
    assert_eq!(
        get_json(&m, "/weights").await,
        want,
        "kept across a restart"
    );
    let (_, v) = op(&m, json!({"type":"GET_WEIGHTS"})).await;
    assert_eq!(
        v["get_weights"]["weight_infos"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn quota_is_validated_recorded_shown_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let flags = durable(&dir);
    let m = durable_master(&flags).await;
    let _agent = FakeAgent::register(&m, "cpus:4;mem:1024").await;

    let set = r#"{"role":"prod","guarantee":[
        {"name":"cpus","type":"SCALAR","scalar":{"value":2}},
        {"name":"mem","type":"SCALAR","scalar":{"value":256}}]}"#;
    let (s, v) = send(&m, "POST", "/quota", set).await;
    assert_eq!(s, 200, "{v}");
    let status = get_json(&m, "/quota").await;
    assert_eq!(status["infos"][0]["role"], "prod");
    assert_eq!(status["configs"][0]["guarantees"]["cpus"]["value"], 2.0);
    assert_eq!(status["configs"][0]["limits"]["mem"]["value"], 256.0);

    // Setting it again through the legacy call is refused (use UPDATE_QUOTA).
    let (s, _) = send(&m, "POST", "/quota", set).await;
    assert_eq!(s, 400);
    // Over the cluster: 409 unless forced.
    let over = json!({"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[
        {"role":"dev","guarantees":{"cpus":{"value":3}}}]}});
    let (s, v) = op(&m, over.clone()).await;
    assert_eq!(s, 409, "{v}");
    assert!(v["message"].as_str().unwrap().contains("capacity"), "{v}");
    for (bad, why) in [
        (
            json!({"role":"dev","guarantees":{"ports":{"value":1}}}),
            "ports",
        ),
        (
            json!({"role":"dev","guarantees":{"cpus":{"value":2}},"limits":{"cpus":{"value":1}}}),
            "above",
        ),
        (
            json!({"role":"*","guarantees":{"cpus":{"value":1}}}),
            "default role",
        ),
        (
            json!({"role":"dev","guarantees":{"cpus":{"value":-1}}}),
            "between",
        ),
        (json!({"role":"","limits":{"cpus":{"value":1}}}), "role"),
    ] {
        let (s, v) = op(
            &m,
            json!({"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[bad]}}),
        )
        .await;
        assert_eq!(s, 400, "{why}: {v}");
        assert!(v["message"].as_str().unwrap().contains(why), "{why}: {v}");
    }
    let (_, v) = op(&m, json!({"type":"GET_QUOTA"})).await;
    assert_eq!(
        v["get_quota"]["status"]["configs"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "refused changes left only prod: {v}"
    );

    let mut forced = over;
    forced["update_quota"]["force"] = json!(true);
    let (s, v) = op(&m, forced).await;
    assert_eq!(s, 200, "{v}");
    let roles = get_json(&m, "/roles").await;
    let dev = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "dev")
        .expect("a role with quota is listed");
    assert_eq!(dev["quota"]["guarantee"]["cpus"], 3.0);

    let (s, _) = send(&m, "DELETE", "/quota/dev", "").await;
    assert_eq!(s, 200);
    let (s, v) = send(&m, "DELETE", "/quota/dev", "").await;
    assert_eq!(s, 400, "no quota to remove: {v}");

    m.stop().await;
    let m = durable_master(&flags).await;
    let status = get_json(&m, "/quota").await;
    let roles: Vec<&str> = status["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["prod"], "kept across a restart, removal included");
}

/// A greedy framework without quota is offered only what the quota role's
/// guarantee does not need; the quota role, subscribing later, gets it.
#[tokio::test]
async fn quota_guarantee_holds_under_contention() {
    let m = master(&[]).await;
    let a1 = FakeAgent::register(&m, "cpus:1;mem:128").await;
    let a2 = FakeAgent::register(&m, "cpus:1;mem:128").await;
    let (s, v) = op(
        &m,
        json!({"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[
            {"role":"prod","guarantees":{"cpus":{"value":1}}}]}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");

    let mut dev_info = framework_info("greedy");
    dev_info.role = Some("dev".into());
    let mut dev = mesos_scheduler::subscribe(&m.endpoint(), dev_info)
        .await
        .unwrap();
    // Both agents are free when it subscribes: one cycle covers both.
    let offers = next_event(&mut dev, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers;
    let cpus: f64 = offers
        .iter()
        .map(|o| mesos_types::Resources::from_wire(o.resources.clone()).scalar("cpus"))
        .sum();
    assert_eq!(cpus, 1.0, "dev is offered one agent, not both: {offers:?}");
    let o = &offers[0];
    dev.caller
        .launch(
            vec![o.id.clone()],
            vec![command_task("hog", &o.agent_id, "cpus:1;mem:128")],
            None,
        )
        .await
        .unwrap();

    let mut prod_info = framework_info("prod");
    prod_info.role = Some("prod".into());
    let mut prod = mesos_scheduler::subscribe(&m.endpoint(), prod_info)
        .await
        .unwrap();
    let kept = if o.agent_id == a1.id { &a2.id } else { &a1.id };
    let offer = next_offer_on(&mut prod, kept).await;
    let r = mesos_types::Resources::from_wire(offer.resources);
    assert_eq!(r.scalar("cpus"), 1.0, "prod gets the agent kept for it");

    // dev holds 1 cpu: a limit below that is refused unless forced.
    let limit = |force: bool| {
        json!({"type":"UPDATE_QUOTA","update_quota":{"force": force, "quota_configs":[
            {"role":"dev","limits":{"cpus":{"value":0.5}}}]}})
    };
    let (s, v) = op(&m, limit(false)).await;
    assert_eq!(s, 409, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("already holds"),
        "{v}"
    );
    let (s, v) = op(&m, limit(true)).await;
    assert_eq!(s, 200, "{v}");
}
