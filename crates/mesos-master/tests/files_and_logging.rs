//! The master's `/files/*` with `/master/log` (`--log_dir`), the v1
//! LIST_FILES, READ_FILE, GET_/SET_LOGGING_LEVEL calls, and the
//! Prometheus text at `/metrics`.

mod common;

use common::{operator_call as call, *};
use serde_json::{Value, json};
use std::time::Duration;

async fn get(m: &mesos_master::MasterHandle, path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("http://{}{path}", m.addr))
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_master_log_is_served_and_nothing_else() {
    let logs = tempfile::tempdir().unwrap();
    let m = master(&[&format!("--log_dir={}", logs.path().display())]).await;
    let log = logs.path().join("mesos-master.INFO");
    assert!(log.exists(), "the master creates its log file");
    std::fs::write(&log, "I1202 master started\n").unwrap();
    std::fs::write(logs.path().join("secret"), "no").unwrap();

    for prefix in ["", "/master"] {
        let (code, debug) = get(&m, &format!("{prefix}/files/debug.json")).await;
        assert_eq!(code, 200);
        assert_eq!(debug, json!({"/master/log": log.display().to_string()}));
    }
    let (code, v) = get(&m, "/files/read?path=/master/log&offset=2&length=6").await;
    assert_eq!(
        (code, v),
        (200, json!({"data": "202 ma", "offset": 2, "length": 6}))
    );
    let (code, v) = get(&m, "/files/read.json?path=/master/log").await;
    assert_eq!((code, v), (200, json!({"data": "", "offset": 21})));
    let (code, v) = get(&m, "/files/browse?path=/master/log").await;
    assert_eq!(
        (code, &v[0]["path"], &v[0]["size"]),
        (200, &json!("/master/log"), &json!(21))
    );
    let r = reqwest::get(format!("http://{}/files/download?path=/master/log", m.addr))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("mesos-master.INFO")
    );
    assert_eq!(r.text().await.unwrap(), "I1202 master started\n");
    let r = reqwest::get(format!("http://{}/files/debug?jsonp=cb", m.addr))
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/javascript");
    assert!(r.text().await.unwrap().starts_with("cb({"));

    let (code, v) = call(&m, json!({"type": "READ_FILE", "read_file": {"path": "/master/log", "offset": 1, "length": 4}})).await;
    assert_eq!(code, 200);
    assert_eq!(
        v,
        json!({"type": "READ_FILE", "read_file": {"size": 21, "data": "MTIwMg=="}})
    );
    let (code, v) = call(
        &m,
        json!({"type": "LIST_FILES", "list_files": {"path": "/master/log"}}),
    )
    .await;
    assert_eq!(code, 200);
    let info = &v["list_files"]["file_infos"][0];
    assert_eq!(
        (&info["path"], &info["size"]),
        (&json!("/master/log"), &json!(21))
    );
    assert!(
        info["mode"].is_u64() && info["mtime"]["nanoseconds"].is_i64(),
        "{info}"
    );

    // Outside the log: 4xx with a message, nothing served.
    let secret = logs.path().join("secret").display().to_string();
    for bad in [
        "/etc/passwd".to_string(),
        secret,
        "/master/log/../secret".into(),
        "/master/log/x".into(),
        "/master".into(),
    ] {
        let (code, v) = get(&m, &format!("/files/read?path={bad}&offset=0")).await;
        assert!((400..500).contains(&code), "{bad}: {code}");
        assert!(v["message"].is_string(), "{bad}: {v}");
        let (code, v) = call(
            &m,
            json!({"type": "READ_FILE", "read_file": {"path": bad, "offset": 0}}),
        )
        .await;
        assert!((400..500).contains(&code), "{bad}: {code}");
        assert!(v["message"].is_string(), "{bad}: {v}");
        let (code, _) = get(&m, &format!("/files/download?path={bad}")).await;
        assert!((400..500).contains(&code), "{bad}: {code}");
    }
    for q in ["offset=-2", "offset=0&length=-3", "offset=x"] {
        let (code, v) = get(&m, &format!("/files/read?path=/master/log&{q}")).await;
        assert_eq!(code, 400, "{q}: {v}");
        assert!(v["message"].is_string());
    }
    let (code, _) = get(&m, "/files/read").await;
    assert_eq!(code, 400, "no path");
    let (code, _) = call(
        &m,
        json!({"type": "READ_FILE", "read_file": {"path": "/master/log", "offset": -1}}),
    )
    .await;
    assert_eq!(code, 400);
    let (code, _) = call(&m, json!({"type": "LIST_FILES"})).await;
    assert_eq!(code, 400);
    let r = reqwest::Client::new()
        .post(format!("http://{}/files/read?path=/master/log", m.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
}

#[tokio::test]
async fn without_a_log_dir_nothing_is_attached() {
    let m = master(&[]).await;
    assert_eq!(get(&m, "/files/debug").await, (200, json!({})));
    let (code, _) = get(&m, "/files/read?path=/master/log&offset=0").await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn set_logging_level_changes_the_level_and_reverts() {
    let m = master(&[]).await;
    let level = async || {
        call(&m, json!({"type": "GET_LOGGING_LEVEL"})).await.1["get_logging_level"]["level"].clone()
    };
    assert_eq!(level().await, 0);
    let (code, v) = call(&m, json!({"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 1, "duration": {"nanoseconds": 3_600_000_000_000u64}}})).await;
    assert_eq!((code, v), (200, Value::Null));
    assert_eq!(level().await, 1);
    call(&m, json!({"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 3, "duration": {"nanoseconds": 1_000_000}}})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while level().await != 0 {
        assert!(tokio::time::Instant::now() < deadline, "never reverted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, v) = call(&m, json!({"type": "SET_LOGGING_LEVEL"})).await;
    assert_eq!(code, 400);
    assert!(v["message"].as_str().unwrap().contains("set_logging_level"));
}

#[tokio::test]
async fn prometheus_text_has_every_metric() {
    let m = master(&[]).await;
    let (_, snapshot) = get(&m, "/metrics/snapshot").await;
    let r = reqwest::get(format!("http://{}/metrics", m.addr))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain; version=0.0.4");
    let text = r.text().await.unwrap();
    assert!(text.contains("# TYPE mesos_master_elected gauge\nmesos_master_elected 1\n"));
    assert!(text.contains("\nmesos_master_tasks_finished 0\n"));
    let names: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("mesos_") && !n.contains('/'))
    );
    // The snapshot is read again for the text: gauges may differ, keys not.
    assert_eq!(names.len(), snapshot.as_object().unwrap().len());
    let r = reqwest::get(format!("http://{}/master/metrics", m.addr))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}
