//! Every call of every v1 API parses the way Mesos's JSON-to-protobuf parser
//! does (spec 0.0): for each call type, a body with `null` in any one field
//! parses like the body without that field (and fails where Mesos would, for
//! a required field), and a body with every number and bool given as a
//! string parses like the clean body.
//!
//! The fixtures set every field the types know, so walking their keys walks
//! every optional and repeated field; passthrough JSON (labels, container,
//! ...) holds only strings, since stout would keep it as given.

use mesos_types::agent_protocol::AgentCall;
use mesos_types::executor::Call as ExecutorCall;
use mesos_types::operator::OperatorCall;
use mesos_types::scheduler::Call as SchedulerCall;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::fmt::Debug;

fn parse<T: DeserializeOwned>(v: &Value) -> Result<T, String> {
    mesos_types::json::from_slice(v.to_string().as_bytes()).map_err(|e| e.to_string())
}

fn resource() -> Value {
    json!({
        "name": "cpus", "type": "SCALAR", "scalar": {"value": 1.5},
        "ranges": {"range": [{"begin": 31000, "end": 31010}]},
        "set": {"item": ["a"]},
        "role": "web",
        "allocation_info": {"role": "web"},
        "reservation": {"type": "DYNAMIC", "role": "web", "principal": "p", "labels": {"labels": [{"key": "k", "value": "v"}]}},
        "reservations": [{"type": "STATIC", "role": "web", "principal": "p", "labels": {"labels": [{"key": "k"}]}}],
        "disk": {"persistence": {"id": "x"}},
        "revocable": {},
        "shared": {},
        "provider_id": {"value": "prov"}
    })
}

fn command() -> Value {
    json!({
        "uris": [{"value": "http://x/y.tgz", "executable": false, "extract": true, "cache": false, "output_file": "y"}],
        "environment": {"variables": [{"name": "A", "type": "VALUE", "value": "1", "secret": {"type": "VALUE"}}]},
        "shell": false,
        "value": "/bin/true",
        "arguments": ["true", "x"],
        "user": "nobody"
    })
}

fn executor() -> Value {
    json!({
        "type": "CUSTOM",
        "executor_id": {"value": "e"},
        "framework_id": {"value": "f"},
        "command": command(),
        "container": {"type": "MESOS"},
        "resources": [resource()],
        "name": "exec",
        "source": "src",
        "data": "ZGF0YQ==",
        "shutdown_grace_period": {"nanoseconds": 5000000000i64},
        "labels": {"labels": [{"key": "k", "value": "v"}]}
    })
}

fn task() -> Value {
    json!({
        "name": "t", "task_id": {"value": "t1"}, "agent_id": {"value": "a"},
        "resources": [resource()],
        "executor": executor(),
        "command": command(),
        "container": {"type": "DOCKER", "docker": {"image": "busybox"}},
        "health_check": {"type": "COMMAND"},
        "check": {"type": "COMMAND"},
        "kill_policy": {"grace_period": {"nanoseconds": 1000}},
        "data": "ZGF0YQ==",
        "labels": {"labels": [{"key": "k", "value": "v"}]},
        "discovery": {"visibility": "FRAMEWORK"},
        "max_completion_time": {"nanoseconds": 7},
        "limits": {"cpus": {"value": "2"}}
    })
}

fn framework_info() -> Value {
    json!({
        "user": "u", "name": "n", "id": {"value": "f"},
        "failover_timeout": 3600.5, "checkpoint": true,
        "role": "web", "roles": ["web", "batch"],
        "hostname": "h", "principal": "p", "webui_url": "http://ui",
        "capabilities": [{"type": "MULTI_ROLE"}, {"type": "PARTITION_AWARE"}],
        "labels": {"labels": [{"key": "k", "value": "v"}]},
        "offer_filters": {"web": {"min_allocatable_resources": {}}}
    })
}

fn status() -> Value {
    json!({
        "task_id": {"value": "t1"}, "state": "TASK_RUNNING", "message": "m",
        "source": "SOURCE_EXECUTOR", "reason": "REASON_COMMAND_EXECUTOR_FAILED",
        "data": "ZA==", "agent_id": {"value": "a"}, "executor_id": {"value": "e"},
        "timestamp": 1700000000.25, "uuid": "AAAAAAAAAAAAAAAAAAAAAA==", "healthy": true,
        "check_status": {"type": "COMMAND"},
        "labels": {"labels": [{"key": "k"}]},
        "container_status": {
            "container_id": {"value": "c", "parent": {"value": "p"}},
            "network_infos": [{"ip_addresses": [{"ip_address": "10.0.0.1"}]}],
            "executor_pid": 4242
        },
        "unreachable_time": {"nanoseconds": "1"}
    })
}

fn scheduler_calls() -> Vec<Value> {
    let f = json!({"value": "f"});
    let filters = json!({"refuse_seconds": 10.5});
    vec![
        json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info(), "suppressed_roles": ["batch"]}}),
        json!({"type": "TEARDOWN", "framework_id": f}),
        json!({"type": "ACCEPT", "framework_id": f, "accept": {
            "offer_ids": [{"value": "o1"}, {"value": "o2"}],
            "operations": [
                {"type": "LAUNCH", "id": {"value": "op"}, "launch": {"task_infos": [task()]}},
                {"type": "LAUNCH_GROUP", "launch_group": {"executor": executor(), "task_group": {"tasks": [task()]}}}
            ],
            "filters": filters
        }}),
        json!({"type": "DECLINE", "framework_id": f, "decline": {"offer_ids": [{"value": "o"}], "filters": filters}}),
        json!({"type": "REVIVE", "framework_id": f, "revive": {"roles": ["web"]}}),
        json!({"type": "SUPPRESS", "framework_id": f, "suppress": {"roles": ["web"]}}),
        json!({"type": "KILL", "framework_id": f, "kill": {"task_id": {"value": "t"}, "agent_id": {"value": "a"}, "kill_policy": {"grace_period": {"nanoseconds": 3}}}}),
        json!({"type": "SHUTDOWN", "framework_id": f, "shutdown": {"executor_id": {"value": "e"}, "agent_id": {"value": "a"}}}),
        json!({"type": "ACKNOWLEDGE", "framework_id": f, "acknowledge": {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "AAAA"}}),
        json!({"type": "ACKNOWLEDGE_OPERATION_STATUS", "framework_id": f, "acknowledge_operation_status": {"uuid": "AAAA"}}),
        json!({"type": "RECONCILE", "framework_id": f, "reconcile": {"tasks": [{"task_id": {"value": "t"}, "agent_id": {"value": "a"}}]}}),
        json!({"type": "RECONCILE_OPERATIONS", "framework_id": f, "reconcile_operations": {"operations": []}}),
        json!({"type": "MESSAGE", "framework_id": f, "message": {"agent_id": {"value": "a"}, "executor_id": {"value": "e"}, "data": "ZA=="}}),
        json!({"type": "REQUEST", "framework_id": f, "request": {"requests": [{"agent_id": {"value": "a"}}]}}),
        json!({"type": "ACCEPT_INVERSE_OFFERS", "framework_id": f, "accept_inverse_offers": {"inverse_offer_ids": [{"value": "i"}]}}),
        json!({"type": "DECLINE_INVERSE_OFFERS", "framework_id": f, "decline_inverse_offers": {"inverse_offer_ids": [{"value": "i"}]}}),
        json!({"type": "UPDATE_FRAMEWORK", "framework_id": f, "update_framework": {"framework_info": framework_info()}}),
    ]
}

fn executor_calls() -> Vec<Value> {
    let ids = json!({"executor_id": {"value": "e"}, "framework_id": {"value": "f"}});
    let with = |kind: &str, key: &str, payload: Value| {
        let mut c = ids.clone();
        c["type"] = json!(kind);
        if !key.is_empty() {
            c[key] = payload;
        }
        c
    };
    vec![
        with(
            "SUBSCRIBE",
            "subscribe",
            json!({"unacknowledged_tasks": [task()], "unacknowledged_updates": [{"status": status()}]}),
        ),
        with("UPDATE", "update", json!({"status": status()})),
        with("MESSAGE", "message", json!({"data": "ZA=="})),
        with("HEARTBEAT", "", Value::Null),
    ]
}

fn operator_calls() -> Vec<Value> {
    mesos_types::OperatorCallType::ALL
        .iter()
        .map(|k| {
            let key = k.as_str().to_ascii_lowercase();
            // Unknown keys are ignored: one payload serves every call.
            json!({"type": k.as_str(), key: operator_payload()})
        })
        .collect()
}

/// The fields of every typed operator payload (master and agent).
fn operator_payload() -> Value {
    json!({
        "agent_id": {"value": "a"}, "framework_id": {"value": "f"},
        "level": 1, "duration": {"nanoseconds": 5},
        "path": "/p", "offset": 3, "length": 4,
        "container_id": {"value": "c"}, "signal": 15,
        "show_nested": true, "show_standalone": false,
        "weight_infos": [{"role": "r", "weight": 2.5}],
        "force": true,
        "quota_configs": [{"role": "r", "guarantees": {"cpus": {"value": 1}},
                           "limits": {"mem": {"value": 64}}}],
        "quota_request": {"role": "r", "force": false, "guarantee": [resource()]},
        "role": "r",
        "schedule": {"windows": [{"machine_ids": [machine()],
            "unavailability": {"start": {"nanoseconds": 1}, "duration": {"nanoseconds": 2}}}]},
        "machines": [machine()],
        "max_grace_period": {"nanoseconds": 5}, "mark_gone": true,
        "resources": [resource()], "volumes": [resource()]
    })
}

fn machine() -> Value {
    json!({"hostname": "h", "ip": "10.0.0.1"})
}

fn agent_operator_calls() -> Vec<Value> {
    mesos_types::AgentCallType::ALL
        .iter()
        .map(|k| {
            let key = k.as_str().to_ascii_lowercase();
            json!({"type": k.as_str(), key: operator_payload()})
        })
        .collect()
}

fn agent_calls() -> Vec<Value> {
    let a = json!({"value": "a"});
    let f = json!({"value": "f"});
    vec![
        json!({"type": "REGISTER",
            "agent_info": {
                "hostname": "h", "port": 5051, "resources": [resource()],
                "attributes": [
                    {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
                    {"name": "zone", "type": "SCALAR", "scalar": {"value": 2}},
                    {"name": "ids", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 5}]}},
                    {"name": "s", "type": "SET", "set": {"item": ["x"]}}
                ],
                "id": a, "domain": {"fault_domain": {"region": {"name": "r"}}}
            },
            "version": "1.11.0",
            "tasks": [{"framework_id": f, "task": task(), "state": "TASK_RUNNING"}],
            "frameworks": [framework_info()]
        }),
        json!({"type": "UPDATE", "agent_id": a, "framework_id": f, "status": status()}),
        json!({"type": "MESSAGE", "agent_id": a, "framework_id": f, "executor_id": {"value": "e"}, "data": "ZA=="}),
        json!({"type": "EXECUTOR_EXITED", "agent_id": a, "framework_id": f, "executor_id": {"value": "e"}, "status": -9}),
        json!({"type": "PONG", "agent_id": a}),
    ]
}

/// Every (path to an object, key) in `v`.
fn object_keys(v: &Value, path: &mut Vec<PathStep>, out: &mut Vec<(Vec<PathStep>, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.push((path.clone(), k.clone()));
                path.push(PathStep::Key(k.clone()));
                object_keys(x, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(PathStep::Index(i));
                object_keys(x, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a mut Value, path: &[PathStep]) -> &'a mut serde_json::Map<String, Value> {
    let mut cur = v;
    for s in path {
        cur = match s {
            PathStep::Key(k) => &mut cur[k.as_str()],
            PathStep::Index(i) => &mut cur[*i],
        };
    }
    cur.as_object_mut().expect("path leads to an object")
}

/// Every number and bool written as a string, as some clients do.
fn stringify_scalars(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Array(a) => Value::Array(a.iter().map(stringify_scalars).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), stringify_scalars(x)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn check_all<T: DeserializeOwned + PartialEq + Debug>(api: &str, bodies: Vec<Value>) {
    for body in bodies {
        let kind = body["type"].clone();
        let clean: T = parse(&body).unwrap_or_else(|e| panic!("{api} {kind}: clean body: {e}"));

        let loose: T = parse(&stringify_scalars(&body))
            .unwrap_or_else(|e| panic!("{api} {kind}: scalars as strings: {e}"));
        assert_eq!(loose, clean, "{api} {kind}: scalars as strings");

        let mut keys = Vec::new();
        object_keys(&body, &mut Vec::new(), &mut keys);
        for (path, key) in keys {
            let mut without = body.clone();
            at(&mut without, &path).remove(&key);
            let mut nulled = body.clone();
            at(&mut nulled, &path).insert(key.clone(), Value::Null);
            let want = parse::<T>(&without);
            let got = parse::<T>(&nulled);
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(g, w, "{api} {kind}: {path:?}.{key} = null"),
                (Err(_), Err(_)) => {}
                (w, g) => panic!(
                    "{api} {kind}: {path:?}.{key}: null must read as absent; absent: {w:?}, null: {g:?}"
                ),
            }
        }
    }
}

#[test]
fn scheduler_calls_read_null_as_unset_and_scalars_from_strings() {
    check_all::<SchedulerCall>("scheduler", scheduler_calls());
}

#[test]
fn executor_calls_read_null_as_unset_and_scalars_from_strings() {
    check_all::<ExecutorCall>("executor", executor_calls());
}

#[test]
fn operator_calls_read_null_as_unset_and_scalars_from_strings() {
    check_all::<OperatorCall>("operator", operator_calls());
}

#[test]
fn agent_operator_calls_read_null_as_unset_and_scalars_from_strings() {
    check_all::<mesos_types::operator::AgentOperatorCall>("agent operator", agent_operator_calls());
}

#[test]
fn agent_calls_read_null_as_unset_and_scalars_from_strings() {
    check_all::<AgentCall>("agent", agent_calls());
}

/// What a Go v1 client sends to subscribe (nil slices marshal as `null`).
#[test]
fn go_client_subscribe_parses() {
    let body = json!({
        "type": "SUBSCRIBE", "framework_id": null,
        "subscribe": {"framework_info": {
            "user": "root", "name": "go", "id": null, "failover_timeout": "60",
            "checkpoint": "true", "role": null, "roles": null, "hostname": null,
            "capabilities": null, "labels": null
        }, "suppressed_roles": null}
    });
    let c: SchedulerCall = parse(&body).unwrap();
    let info = c.subscribe.unwrap().framework_info;
    assert_eq!(info.failover_timeout, 60.0);
    assert!(info.checkpoint);
    assert!(info.capabilities.is_empty() && info.roles.is_empty());
}
