//! Every top-level call and event type of the scheduler, executor and
//! operator APIs survives our serde types → JSON → protobuf → JSON → serde
//! types unchanged, with representative values (resources with ranges, sets
//! and reservations, TaskStatus with data bytes and timestamps, enums), and
//! the protobuf we write has every required field a C++ client insists on.
//! Bad bytes are errors with a message, never panics.

use mesos_proto::transcode::{from_json, missing_required, to_json};
use mesos_proto::{CodecError, ContentType, Message};
use proptest::prelude::*;
use prost::Message as _;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};
use std::fmt::Debug;

/// JSON equality where `30` and `30.0` are the same number (a double field
/// given an integer comes back as a double).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Round-trips `value` through protobuf and checks the JSON and the typed
/// value come back unchanged.
fn roundtrip<T>(msg: Message, value: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let json = serde_json::to_value(value).unwrap();
    let bytes = ContentType::Protobuf.encode(msg, value).unwrap();
    let decoded = prost_reflect::DynamicMessage::decode(msg.descriptor(), &bytes[..]).unwrap();
    assert_eq!(
        missing_required(&decoded),
        Vec::<String>::new(),
        "{msg:?} {json}"
    );
    let back_json = to_json(&decoded);
    assert!(
        same(&json, &back_json),
        "{msg:?}\n  sent {json}\n  got  {back_json}"
    );
    let back: T = ContentType::Protobuf.decode(msg, &bytes).unwrap();
    // Typed fields compare exactly; the sub-messages our types keep as raw
    // JSON may come back with `30.0` for a double given as `30`.
    assert!(
        &back == value || same(&serde_json::to_value(&back).unwrap(), &json),
        "{msg:?}: {json}"
    );
}

fn parse<T: DeserializeOwned>(v: Json) -> T {
    mesos_types::json::from_value(v).unwrap()
}

fn resources() -> Json {
    json!([
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.5}, "role": "*"},
        {"name": "ports", "type": "RANGES",
         "ranges": {"range": [{"begin": 31000, "end": 31005}, {"begin": 40000, "end": 18446744073709551615u64}]}},
        {"name": "disks", "type": "SET", "set": {"item": ["sda", "sdb"]}},
        {"name": "disk", "type": "SCALAR", "scalar": {"value": 64},
         "reservations": [
            {"type": "STATIC", "role": "ops"},
            {"type": "DYNAMIC", "role": "ops/web", "principal": "p",
             "labels": {"labels": [{"key": "k", "value": "v"}]}}],
         "disk": {"persistence": {"id": "vol1", "principal": "p"},
                  "volume": {"mode": "RW", "container_path": "data"},
                  "source": {"type": "MOUNT", "mount": {"root": "/mnt/a"}}},
         "allocation_info": {"role": "ops/web"}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}, "revocable": {}, "shared": {}},
    ])
}

fn task_info() -> Json {
    json!({
        "name": "web", "task_id": {"value": "web-1"}, "agent_id": {"value": "S0"},
        "resources": resources(),
        "command": {"shell": false, "value": "/bin/app", "arguments": ["app", "-v"], "user": "nobody",
            "uris": [{"value": "http://x/app.tgz", "extract": false, "cache": true, "executable": false,
                      "output_file": "a.tgz"}],
            "environment": {"variables": [{"name": "A", "value": "1"}, {"name": "S", "type": "SECRET",
                "secret": {"type": "VALUE", "value": {"data": "c2VjcmV0"}}}]}},
        "container": {"type": "DOCKER",
            "docker": {"image": "nginx", "network": "BRIDGE", "privileged": true,
                "port_mappings": [{"host_port": 31000, "container_port": 80, "protocol": "tcp"}],
                "parameters": [{"key": "env", "value": "A=1"}]},
            "volumes": [{"container_path": "/d", "host_path": "/srv", "mode": "RO"}],
            "network_infos": [{"name": "net", "ip_addresses": [{"protocol": "IPv6"}]}],
            "linux_info": {"effective_capabilities": {"capabilities": ["NET_ADMIN", "CHOWN"]},
                           "share_pid_namespace": false},
            "rlimit_info": {"rlimits": [{"type": "RLMT_NOFILE", "hard": 1024, "soft": 512}]}},
        "health_check": {"type": "HTTP", "http": {"port": 31000, "path": "/", "scheme": "http"},
            "grace_period_seconds": 30, "consecutive_failures": 5},
        "check": {"type": "TCP", "tcp": {"port": 31001}, "delay_seconds": 1.5},
        "kill_policy": {"grace_period": {"nanoseconds": 10_000_000_000i64}},
        "data": "AAECAwQ=",
        "labels": {"labels": [{"key": "a"}, {"key": "b", "value": "c"}]},
        "discovery": {"visibility": "CLUSTER", "name": "web",
            "ports": {"ports": [{"number": 80, "name": "http", "protocol": "tcp"}]}},
        "max_completion_time": {"nanoseconds": -1},
        "limits": {"cpus": {"value": 2.0}, "mem": {"value": "Infinity"}},
    })
}

fn executor_info() -> Json {
    json!({"type": "DEFAULT", "executor_id": {"value": "default-executor"},
           "framework_id": {"value": "F0"}, "resources": resources(), "name": "ex",
           "shutdown_grace_period": {"nanoseconds": 5_000_000_000i64}, "data": "eA==",
           "labels": {"labels": [{"key": "x"}]},
           "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER",
               "docker": {"name": "alpine"}, "cached": false}}}})
}

fn framework_info() -> Json {
    json!({"user": "root", "name": "fw", "id": {"value": "F0"}, "failover_timeout": 604800.0,
           "checkpoint": true, "roles": ["a", "b/c"], "hostname": "h", "principal": "p",
           "webui_url": "http://h:1/",
           "capabilities": [{"type": "MULTI_ROLE"}, {"type": "PARTITION_AWARE"}],
           "labels": {"labels": [{"key": "team", "value": "x"}]},
           "offer_filters": {"a": {"min_allocatable_resources": {"quantities": [
               {"quantities": {"cpus": {"value": 1.0}}}]}}}})
}

fn task_status() -> Json {
    json!({"task_id": {"value": "web-1"}, "state": "TASK_FAILED", "message": "Command exited with status 1",
           "source": "SOURCE_EXECUTOR", "reason": "REASON_COMMAND_EXECUTOR_FAILED",
           "data": "3q2+7w==", "agent_id": {"value": "S0"}, "executor_id": {"value": "web-1"},
           "timestamp": 1764640000.123456, "uuid": "AAECAwQFBgcICQoLDA0ODw==", "healthy": false,
           "check_status": {"type": "COMMAND", "command": {"exit_code": 3}},
           "labels": {"labels": [{"key": "k"}]},
           "container_status": {"container_id": {"value": "c1", "parent": {"value": "c0"}},
               "network_infos": [{"ip_addresses": [{"ip_address": "10.0.0.1"}]}],
               "executor_pid": 4242},
           "unreachable_time": {"nanoseconds": 1764640000000000000i64}})
}

fn master_info() -> Json {
    json!({"id": "m1", "ip": 16777343u32, "port": 5050, "pid": "master@127.0.0.1:5050",
           "hostname": "localhost", "version": "1.11.0",
           "address": {"hostname": "localhost", "ip": "127.0.0.1", "port": 5050}})
}

#[test]
fn scheduler_calls_roundtrip() {
    use mesos_types::scheduler::Call;
    let calls = [
        json!({"type": "SUBSCRIBE", "framework_id": {"value": "F0"},
               "subscribe": {"framework_info": framework_info(), "suppressed_roles": ["b/c"]}}),
        json!({"type": "TEARDOWN", "framework_id": {"value": "F0"}}),
        json!({"type": "ACCEPT", "framework_id": {"value": "F0"}, "accept": {
            "offer_ids": [{"value": "O1"}, {"value": "O2"}],
            "operations": [
                {"type": "LAUNCH", "launch": {"task_infos": [task_info()]}},
                {"type": "LAUNCH_GROUP", "id": {"value": "op1"}, "launch_group": {
                    "executor": executor_info(), "task_group": {"tasks": [task_info()]}}}],
            "filters": {"refuse_seconds": 0.5}}}),
        json!({"type": "DECLINE", "framework_id": {"value": "F0"},
               "decline": {"offer_ids": [{"value": "O3"}], "filters": {"refuse_seconds": 31536000.0}}}),
        json!({"type": "REVIVE", "framework_id": {"value": "F0"}, "revive": {"roles": ["a"]}}),
        json!({"type": "SUPPRESS", "framework_id": {"value": "F0"}, "suppress": {}}),
        json!({"type": "KILL", "framework_id": {"value": "F0"}, "kill": {"task_id": {"value": "t"},
               "agent_id": {"value": "S0"}, "kill_policy": {"grace_period": {"nanoseconds": 1}}}}),
        json!({"type": "SHUTDOWN", "framework_id": {"value": "F0"},
               "shutdown": {"executor_id": {"value": "e"}, "agent_id": {"value": "S0"}}}),
        json!({"type": "ACKNOWLEDGE", "framework_id": {"value": "F0"}, "acknowledge": {
            "agent_id": {"value": "S0"}, "task_id": {"value": "t"}, "uuid": "AAECAwQFBgcICQoLDA0ODw=="}}),
        json!({"type": "RECONCILE", "framework_id": {"value": "F0"}, "reconcile": {"tasks": [
            {"task_id": {"value": "t"}}, {"task_id": {"value": "u"}, "agent_id": {"value": "S1"}}]}}),
        json!({"type": "MESSAGE", "framework_id": {"value": "F0"}, "message": {
            "agent_id": {"value": "S0"}, "executor_id": {"value": "e"}, "data": "aGVsbG8="}}),
        json!({"type": "REQUEST", "framework_id": {"value": "F0"}, "request": {"requests": [
            {"agent_id": {"value": "S0"}, "resources": resources()}]}}),
        json!({"type": "ACCEPT_INVERSE_OFFERS", "framework_id": {"value": "F0"},
               "accept_inverse_offers": {"inverse_offer_ids": [{"value": "O9"}]}}),
        json!({"type": "DECLINE_INVERSE_OFFERS", "framework_id": {"value": "F0"},
               "decline_inverse_offers": {"inverse_offer_ids": [{"value": "O9"}],
                                          "filters": {"refuse_seconds": 1.0}}}),
        json!({"type": "UPDATE_FRAMEWORK", "framework_id": {"value": "F0"}}),
        json!({"type": "ACKNOWLEDGE_OPERATION_STATUS", "framework_id": {"value": "F0"}}),
        json!({"type": "RECONCILE_OPERATIONS", "framework_id": {"value": "F0"}}),
    ];
    for c in calls {
        roundtrip(Message::SchedulerCall, &parse::<Call>(c));
    }
}

#[test]
fn scheduler_events_roundtrip() {
    use mesos_types::scheduler::Event;
    let offer = json!({"id": {"value": "O1"}, "framework_id": {"value": "F0"}, "agent_id": {"value": "S0"},
        "hostname": "h", "url": {"scheme": "http", "address": {"hostname": "h", "ip": "10.0.0.2", "port": 5051},
        "path": "/slave(1)"}, "resources": resources(),
        "attributes": [{"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
                       {"name": "zone", "type": "SCALAR", "scalar": {"value": 2.0}},
                       {"name": "ids", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 5}]}}],
        "executor_ids": [{"value": "e1"}], "allocation_info": {"role": "a"}});
    let events = [
        json!({"type": "SUBSCRIBED", "subscribed": {"framework_id": {"value": "F0"},
               "heartbeat_interval_seconds": 15.0, "master_info": master_info()}}),
        json!({"type": "OFFERS", "offers": {"offers": [offer]}}),
        json!({"type": "RESCIND", "rescind": {"offer_id": {"value": "O1"}}}),
        json!({"type": "UPDATE", "update": {"status": task_status()}}),
        json!({"type": "MESSAGE", "message": {"agent_id": {"value": "S0"}, "executor_id": {"value": "e"},
               "data": "AP8="}}),
        json!({"type": "FAILURE", "failure": {"agent_id": {"value": "S0"}, "executor_id": {"value": "e"},
               "status": -9}}),
        json!({"type": "ERROR", "error": {"message": "Framework failed over"}}),
        json!({"type": "HEARTBEAT"}),
    ];
    for e in events {
        roundtrip(Message::SchedulerEvent, &parse::<Event>(e));
    }
}

#[test]
fn executor_calls_and_events_roundtrip() {
    use mesos_types::executor::{Call, Event};
    let ids = json!({"executor_id": {"value": "e"}, "framework_id": {"value": "F0"}});
    let with = |extra: Json| {
        let mut c = ids.clone();
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let calls = [
        with(
            json!({"type": "SUBSCRIBE", "subscribe": {"unacknowledged_tasks": [task_info()],
            "unacknowledged_updates": [{"status": task_status()}]}}),
        ),
        with(json!({"type": "UPDATE", "update": {"status": task_status()}})),
        with(json!({"type": "MESSAGE", "message": {"data": "AAEC"}})),
        with(json!({"type": "HEARTBEAT"})),
    ];
    for c in calls {
        roundtrip(Message::ExecutorCall, &parse::<Call>(c));
    }
    let agent_info = json!({"hostname": "h", "port": 5051, "resources": resources(),
        "attributes": [{"name": "rack", "type": "TEXT", "text": {"value": "r1"}}], "id": {"value": "S0"},
        "domain": {"fault_domain": {"region": {"name": "eu"}, "zone": {"name": "a"}}}});
    let events = [
        json!({"type": "SUBSCRIBED", "subscribed": {"executor_info": executor_info(),
            "framework_info": framework_info(), "agent_info": agent_info,
            "container_id": {"value": "c1"}}}),
        json!({"type": "LAUNCH", "launch": {"task": task_info()}}),
        json!({"type": "LAUNCH_GROUP", "launch_group": {"task_group": {"tasks": [task_info()]}}}),
        json!({"type": "KILL", "kill": {"task_id": {"value": "t"},
            "kill_policy": {"grace_period": {"nanoseconds": 3}}}}),
        json!({"type": "ACKNOWLEDGED", "acknowledged": {"task_id": {"value": "t"},
            "uuid": "AAECAwQFBgcICQoLDA0ODw=="}}),
        json!({"type": "MESSAGE", "message": {"data": "AA=="}}),
        json!({"type": "ERROR", "error": {"message": "bad"}}),
        json!({"type": "SHUTDOWN"}),
        json!({"type": "HEARTBEAT"}),
    ];
    for e in events {
        roundtrip(Message::ExecutorEvent, &parse::<Event>(e));
    }
}

#[test]
fn operator_calls_roundtrip() {
    use mesos_types::OperatorCallType;
    use mesos_types::operator::OperatorCall;
    for kind in OperatorCallType::ALL {
        if *kind == OperatorCallType::UNKNOWN {
            continue;
        }
        let mut call = json!({"type": kind.as_str()});
        if *kind == OperatorCallType::TEARDOWN {
            call["teardown"] = json!({"framework_id": {"value": "F0"}});
        }
        if *kind == OperatorCallType::MARK_AGENT_GONE {
            call["mark_agent_gone"] = json!({"agent_id": {"value": "S0"}});
        }
        roundtrip(Message::MasterCall, &parse::<OperatorCall>(call));
    }
}

/// Operator responses and events are JSON the master renders itself; the
/// transcoder keeps every field of the protos.
#[test]
fn operator_responses_and_events_roundtrip_as_json() {
    let task = json!({"name": "web", "task_id": {"value": "t"}, "framework_id": {"value": "F0"},
        "agent_id": {"value": "S0"}, "state": "TASK_RUNNING", "resources": resources(),
        "statuses": [task_status()], "status_update_state": "TASK_RUNNING",
        "status_update_uuid": "AAECAwQFBgcICQoLDA0ODw==", "user": "root",
        "kill_policy": {"grace_period": {"nanoseconds": 7}}});
    let agent = json!({"agent_info": {"hostname": "h", "port": 5051, "id": {"value": "S0"}},
        "active": true, "version": "1.11.0", "pid": "slave(1)@10.0.0.2:5051",
        "registered_time": {"nanoseconds": 1764640000000000000i64},
        "total_resources": resources(), "capabilities": [{"type": "MULTI_ROLE"}]});
    let framework = json!({"framework_info": framework_info(), "active": true, "connected": true,
        "recovered": false, "registered_time": {"nanoseconds": 5}, "allocated_resources": resources()});
    let state = json!({
        "get_tasks": {"tasks": [task.clone()], "completed_tasks": [task.clone()]},
        "get_executors": {"executors": [{"executor_info": executor_info(), "agent_id": {"value": "S0"}}]},
        "get_frameworks": {"frameworks": [framework.clone()]},
        "get_agents": {"agents": [agent.clone()]}});
    let responses = [
        json!({"type": "GET_HEALTH", "get_health": {"healthy": true}}),
        json!({"type": "GET_FLAGS", "get_flags": {"flags": [{"name": "port", "value": "5050"}]}}),
        json!({"type": "GET_VERSION", "get_version": {"version_info": {"version": "1.11.0",
            "build_time": 1.0, "git_sha": "abc"}}}),
        json!({"type": "GET_METRICS", "get_metrics": {"metrics": [{"name": "master/uptime_secs", "value": 2.5}]}}),
        json!({"type": "GET_LOGGING_LEVEL", "get_logging_level": {"level": 0}}),
        json!({"type": "GET_STATE", "get_state": state.clone()}),
        json!({"type": "GET_AGENTS", "get_agents": {"agents": [agent.clone()]}}),
        json!({"type": "GET_ROLES", "get_roles": {"roles": [{"name": "*", "weight": 1.0,
            "frameworks": [{"value": "F0"}], "resources": resources()}]}}),
        json!({"type": "GET_WEIGHTS", "get_weights": {"weight_infos": [{"role": "a", "weight": 2.0}]}}),
        json!({"type": "GET_MASTER", "get_master": {"master_info": master_info(),
            "start_time": 1.5, "elected_time": 2.5}}),
    ];
    for r in responses {
        assert_json_roundtrip(Message::MasterResponse, &r);
    }
    let events = [
        json!({"type": "SUBSCRIBED", "subscribed": {"get_state": state, "heartbeat_interval_seconds": 15.0}}),
        json!({"type": "TASK_ADDED", "task_added": {"task": task}}),
        json!({"type": "TASK_UPDATED", "task_updated": {"framework_id": {"value": "F0"},
            "status": task_status(), "state": "TASK_FAILED"}}),
        json!({"type": "AGENT_ADDED", "agent_added": {"agent": agent}}),
        json!({"type": "AGENT_REMOVED", "agent_removed": {"agent_id": {"value": "S0"}}}),
        json!({"type": "FRAMEWORK_ADDED", "framework_added": {"framework": framework.clone()}}),
        json!({"type": "FRAMEWORK_UPDATED", "framework_updated": {"framework": framework}}),
        json!({"type": "FRAMEWORK_REMOVED", "framework_removed": {"framework_info": framework_info()}}),
        json!({"type": "HEARTBEAT"}),
    ];
    for e in events {
        assert_json_roundtrip(Message::MasterEvent, &e);
    }
    // The agent's operator API (served in another branch) uses the same codec.
    assert_json_roundtrip(
        Message::AgentCall,
        &json!({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": "c"}, "signal": 9}}),
    );
    assert_json_roundtrip(
        Message::AgentResponse,
        &json!({"type": "GET_CONTAINERS", "get_containers": {"containers": [{
            "framework_id": {"value": "F0"}, "executor_id": {"value": "e"}, "executor_name": "n",
            "container_id": {"value": "c"}, "resource_statistics": {"timestamp": 1.5,
            "cpus_user_time_secs": 0.25, "mem_rss_bytes": 4096}}]}}),
    );
}

fn assert_json_roundtrip(msg: Message, json: &Json) {
    let bytes = ContentType::Protobuf.encode(msg, json).unwrap();
    let decoded = prost_reflect::DynamicMessage::decode(msg.descriptor(), &bytes[..]).unwrap();
    assert_eq!(missing_required(&decoded), Vec::<String>::new(), "{json}");
    let back = to_json(&decoded);
    assert!(same(json, &back), "{msg:?}\n  sent {json}\n  got  {back}");
}

#[test]
fn json_conventions_of_stout() {
    let d = Message::SchedulerCall.descriptor();
    // Unknown keys ignored, nulls unset, numbers and bools from strings,
    // an unknown enum name in an optional field dropped.
    let m = from_json(
        &d,
        &json!({"type": "DECLINE", "bogus": 1, "framework_id": null, "decline": {
            "offer_ids": [{"value": "O1"}], "filters": {"refuse_seconds": "Infinity"}}}),
    )
    .unwrap();
    let j = to_json(&m);
    assert_eq!(j["decline"]["filters"]["refuse_seconds"], "Infinity");
    assert!(j.get("framework_id").is_none());
    let m = from_json(&d, &json!({"type": "NO_SUCH_TYPE"})).unwrap();
    assert!(to_json(&m).get("type").is_none());
    // A required enum must be known.
    let ts = mesos_proto::pool()
        .get_message_by_name("mesos.v1.TaskStatus")
        .unwrap();
    let e = from_json(
        &ts,
        &json!({"task_id": {"value": "t"}, "state": "TASK_BOGUS"}),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("Failed to find enum for 'TASK_BOGUS'"),
        "{e}"
    );
    // int64 as JSON numbers, accepted as strings.
    let ti = mesos_proto::pool()
        .get_message_by_name("mesos.v1.TimeInfo")
        .unwrap();
    let m = from_json(&ti, &json!({"nanoseconds": "9007199254740993"})).unwrap();
    assert_eq!(to_json(&m), json!({"nanoseconds": 9007199254740993i64}));
    // Arrays where a single value belongs, strings for numbers: errors
    // naming the field.
    let e = from_json(&ti, &json!({"nanoseconds": [1]})).unwrap_err();
    assert!(e.to_string().contains("'nanoseconds'"), "{e}");
    let e = from_json(&ts, &json!({"task_id": {"value": 5}})).unwrap_err();
    assert!(e.to_string().contains("'value'"), "{e}");
}

#[test]
fn bad_protobuf_is_a_400_with_a_message() {
    use mesos_types::executor::Call as ExecutorCall;
    use mesos_types::scheduler::Call;
    let good = ContentType::Protobuf
        .encode(
            Message::SchedulerCall,
            &parse::<Call>(json!({"type": "KILL", "framework_id": {"value": "F0"},
                "kill": {"task_id": {"value": "a-task"}}})),
        )
        .unwrap();
    let truncated = &good[..good.len() - 3];
    for bad in [
        truncated,
        &b"\xff\xff\xff\xff"[..],
        &b"\x0a\x05ab"[..],
        b"{\"type\":\"KILL\"}",
    ] {
        let e = ContentType::Protobuf
            .decode::<Call>(Message::SchedulerCall, bad)
            .unwrap_err();
        assert!(matches!(e, CodecError::Malformed(_)), "{e:?}");
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("scheduler::Call"), "{e}");
    }
    // A body with no type at all is not a call either.
    let e = ContentType::Protobuf
        .decode::<Call>(Message::SchedulerCall, b"")
        .unwrap_err();
    assert_eq!(e.status(), 400);
    // Required fields are checked as the C++ library does.
    let e = ContentType::Protobuf
        .decode::<ExecutorCall>(Message::ExecutorCall, b"\x18\x04")
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("missing required fields: executor_id, framework_id"),
        "{e}"
    );
}

#[test]
fn records_are_recordio_framed() {
    let e = mesos_types::scheduler::Event::heartbeat();
    let rec = ContentType::Protobuf
        .record(Message::SchedulerEvent, &e)
        .unwrap();
    // type = HEARTBEAT (8): field 1, varint.
    assert_eq!(rec, b"2\n\x08\x08");
    let rec = ContentType::Json
        .record(Message::SchedulerEvent, &e)
        .unwrap();
    assert_eq!(rec, b"20\n{\"type\":\"HEARTBEAT\"}");
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = ContentType::Protobuf.decode::<mesos_types::scheduler::Call>(Message::SchedulerCall, &bytes);
        let _ = ContentType::Protobuf.decode::<mesos_types::executor::Call>(Message::ExecutorCall, &bytes);
        let _ = ContentType::Protobuf.decode::<Json>(Message::MasterCall, &bytes);
    }

    #[test]
    fn mutated_calls_never_panic(pos in 0usize..200, byte in any::<u8>()) {
        let call: mesos_types::scheduler::Call = parse(json!({"type": "ACCEPT",
            "framework_id": {"value": "F0"}, "accept": {"offer_ids": [{"value": "O1"}],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task_info()]}}]}}));
        let mut bytes = ContentType::Protobuf.encode(Message::SchedulerCall, &call).unwrap();
        let i = pos % bytes.len();
        bytes[i] = byte;
        let _ = ContentType::Protobuf.decode::<mesos_types::scheduler::Call>(Message::SchedulerCall, &bytes);
    }
}

#[test]
fn encoding_leaves_out_values_that_do_not_fit() {
    // A JSON client's raw sub-message with a port that no uint32 holds:
    // Mesos would have refused it; a protobuf executor still gets its task.
    let mut task = task_info();
    task["container"]["docker"]["port_mappings"][0]["host_port"] = json!(-1);
    task["health_check"]["type"] = json!("NO_SUCH_TYPE");
    let event: mesos_types::executor::Event =
        parse(json!({"type": "LAUNCH", "launch": {"task": task}}));
    let bytes = ContentType::Protobuf
        .encode(Message::ExecutorEvent, &event)
        .unwrap();
    let back: Json = ContentType::Protobuf
        .decode(Message::ExecutorEvent, &bytes)
        .unwrap_or_else(|e| panic!("{e}"));
    // The mapping lacks its required host port: it is left out whole.
    let docker = &back["launch"]["task"]["container"]["docker"];
    assert_eq!(docker["image"], "nginx");
    assert!(docker.get("port_mappings").is_none(), "{docker}");
    assert_eq!(back["launch"]["task"]["task_id"]["value"], "web-1");
    assert!(back["launch"]["task"]["health_check"].get("type").is_none());
    // Strict transcoding names the field instead.
    let e = from_json(
        &Message::ExecutorEvent.descriptor(),
        &serde_json::to_value(&event).unwrap(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("'host_port'"), "{e}");
}

#[test]
fn encoding_is_plain_prost() {
    // The bytes are ordinary protobuf: prost's own decoder reads them.
    let m = from_json(
        &Message::SchedulerEvent.descriptor(),
        &json!({"type": "RESCIND", "rescind": {"offer_id": {"value": "O1"}}}),
    )
    .unwrap();
    let bytes = m.encode_to_vec();
    assert_eq!(bytes, b"\x08\x03\x22\x06\x0a\x04\x0a\x02O1");
}

#[test]
fn deeply_nested_protobuf_is_refused_not_a_stack_overflow() {
    // ContainerID { value: "x", parent: { value: "x", parent: ... } }, far
    // deeper than any real container nesting.
    let mut bytes = b"\x0a\x01x".to_vec();
    for _ in 0..5_000 {
        let mut outer = b"\x0a\x01x\x12".to_vec();
        let mut len = bytes.len();
        while len >= 0x80 {
            outer.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        outer.push(len as u8);
        outer.extend_from_slice(&bytes);
        bytes = outer;
    }
    let desc = mesos_proto::pool()
        .get_message_by_name("mesos.v1.ContainerID")
        .unwrap();
    assert!(prost_reflect::DynamicMessage::decode(desc, &bytes[..]).is_err());
}

fn reserved_disk_volume() -> Json {
    json!({"name": "disk", "type": "SCALAR", "scalar": {"value": 64.0},
           "reservations": [{"type": "DYNAMIC", "role": "db", "principal": "ops"}],
           "disk": {"persistence": {"id": "v1", "principal": "ops"},
                    "volume": {"container_path": "data", "mode": "RW"}}})
}

/// The operator surface's messages: offer operations on reservations and
/// volumes, inverse offers, and every operator call's payload.
#[test]
fn reservations_maintenance_and_policy_messages_roundtrip() {
    use mesos_types::operator::OperatorCall;
    use mesos_types::scheduler::{Call, Event};
    let reserved_cpus = json!({"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0},
        "reservations": [{"type": "DYNAMIC", "role": "db", "principal": "ops"}]});
    let accept = json!({"type": "ACCEPT", "framework_id": {"value": "F0"}, "accept": {
        "offer_ids": [{"value": "O1"}],
        "operations": [
            {"type": "RESERVE", "reserve": {"resources": [reserved_cpus]}},
            {"type": "CREATE", "create": {"volumes": [reserved_disk_volume()]}},
            {"type": "DESTROY", "destroy": {"volumes": [reserved_disk_volume()]}},
            {"type": "UNRESERVE", "unreserve": {"resources": [reserved_cpus]}}]}});
    roundtrip(Message::SchedulerCall, &parse::<Call>(accept));
    let unavailability = json!({"start": {"nanoseconds": 1_800_000_000_000_000_000i64},
                                "duration": {"nanoseconds": 3_600_000_000_000i64}});
    let events = [
        json!({"type": "INVERSE_OFFERS", "inverse_offers": {"inverse_offers": [{
            "id": {"value": "I1"}, "framework_id": {"value": "F0"}, "agent_id": {"value": "S0"},
            "url": {"scheme": "http", "address": {"hostname": "h", "ip": "10.0.0.2", "port": 5051},
                    "path": "/slave(1)"},
            "unavailability": unavailability}]}}),
        json!({"type": "RESCIND_INVERSE_OFFER",
               "rescind_inverse_offer": {"inverse_offer_id": {"value": "I1"}}}),
        json!({"type": "UPDATE_OPERATION_STATUS", "update_operation_status": {"status": {
            "operation_id": {"value": "op1"}, "state": "OPERATION_ERROR",
            "message": "no such volume", "agent_id": {"value": "S0"}}}}),
        json!({"type": "OFFERS", "offers": {"offers": [{"id": {"value": "O1"},
            "framework_id": {"value": "F0"}, "agent_id": {"value": "S0"}, "hostname": "h",
            "resources": [reserved_disk_volume()], "unavailability": unavailability}]}}),
    ];
    for e in events {
        roundtrip(Message::SchedulerEvent, &parse::<Event>(e));
    }
    let agent = json!({"value": "S0"});
    let machine = json!({"hostname": "h", "ip": "10.0.0.1"});
    let calls = [
        json!({"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "r", "weight": 2.5}]}}),
        json!({"type": "UPDATE_QUOTA", "update_quota": {"force": true, "quota_configs": [
            {"role": "r", "guarantees": {"cpus": {"value": 1.0}}, "limits": {"mem": {"value": 64.0}}}]}}),
        json!({"type": "SET_QUOTA", "set_quota": {"quota_request": {"force": false, "role": "r",
            "guarantee": resources()}}}),
        json!({"type": "REMOVE_QUOTA", "remove_quota": {"role": "r"}}),
        json!({"type": "UPDATE_MAINTENANCE_SCHEDULE", "update_maintenance_schedule": {"schedule": {
            "windows": [{"machine_ids": [machine], "unavailability": unavailability}]}}}),
        json!({"type": "START_MAINTENANCE", "start_maintenance": {"machines": [machine]}}),
        json!({"type": "STOP_MAINTENANCE", "stop_maintenance": {"machines": [machine]}}),
        json!({"type": "DRAIN_AGENT", "drain_agent": {"agent_id": agent,
            "max_grace_period": {"seconds": 2, "nanos": 5}, "mark_gone": true}}),
        json!({"type": "DEACTIVATE_AGENT", "deactivate_agent": {"agent_id": agent}}),
        json!({"type": "REACTIVATE_AGENT", "reactivate_agent": {"agent_id": agent}}),
        json!({"type": "RESERVE_RESOURCES", "reserve_resources": {"agent_id": agent,
            "resources": [reserved_cpus]}}),
        json!({"type": "UNRESERVE_RESOURCES", "unreserve_resources": {"agent_id": agent,
            "resources": [reserved_cpus]}}),
        json!({"type": "CREATE_VOLUMES", "create_volumes": {"agent_id": agent,
            "volumes": [reserved_disk_volume()]}}),
        json!({"type": "DESTROY_VOLUMES", "destroy_volumes": {"agent_id": agent,
            "volumes": [reserved_disk_volume()]}}),
        json!({"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 1,
            "duration": {"nanoseconds": 1000}}}),
        json!({"type": "READ_FILE", "read_file": {"path": "/master/log", "offset": 3, "length": 4}}),
        json!({"type": "LIST_FILES", "list_files": {"path": "/master/log"}}),
    ];
    // The DC/OS UI's form of DRAIN_AGENT reads as the same call.
    let dcos: OperatorCall = parse(
        json!({"type": "DRAIN_AGENT", "drain_agent": {"agent_id": agent,
        "max_grace_period": {"seconds": 2}, "mark_gone": {"value": true}}}),
    );
    let d = dcos.drain_agent.unwrap();
    assert_eq!(d.max_grace_period.unwrap().nanoseconds, 2_000_000_000);
    assert_eq!(d.mark_gone, Some(true));
    for c in calls {
        let call = parse::<OperatorCall>(c.clone());
        assert!(
            serde_json::to_value(&call)
                .unwrap()
                .as_object()
                .unwrap()
                .len()
                >= 2,
            "the payload is typed: {c}"
        );
        roundtrip(Message::MasterCall, &call);
    }
    let responses = [
        json!({"type": "GET_QUOTA", "get_quota": {"status": {"infos": [{"role": "r",
            "guarantee": resources()}], "configs": [{"role": "r",
            "guarantees": {"cpus": {"value": 1.0}}}]}}}),
        json!({"type": "GET_MAINTENANCE_SCHEDULE", "get_maintenance_schedule": {"schedule": {
            "windows": [{"machine_ids": [machine], "unavailability": unavailability}]}}}),
        json!({"type": "GET_MAINTENANCE_STATUS", "get_maintenance_status": {"status": {
            "draining_machines": [{"id": machine, "statuses": [{"status": "ACCEPT",
                "framework_id": {"value": "F0"}, "timestamp": {"nanoseconds": 5}}]}],
            "down_machines": [machine]}}}),
    ];
    for r in responses {
        assert_json_roundtrip(Message::MasterResponse, &r);
    }
}
