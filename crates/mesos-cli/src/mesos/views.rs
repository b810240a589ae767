//! What the commands show, read from the JSON the master and agents
//! answer: table rows, the task a command is about, the agent's address
//! and the sandbox of a task.
//!
//! Everything here is pure and lenient: a field that is missing or of an
//! unexpected type reads as blank (or the item is skipped), so odd JSON
//! from a master never makes the CLI panic.

use super::table::Table;
use serde_json::Value;

/// `v[key]` as text: strings as they are, numbers and booleans printed,
/// anything else blank.
pub fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// `v[key]` as an array (empty if absent or not one).
pub fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A scalar quantity as Mesos prints it: `1`, `0.5`, `512`.
pub fn quantity(x: f64) -> String {
    let rounded = (x * 1000.0).round() / 1000.0;
    if rounded.fract() == 0.0 && rounded.abs() < 1e15 {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded}")
    }
}

fn scalar(resources: Option<&Value>, name: &str) -> f64 {
    resources
        .and_then(|r| r.get(name))
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
}

/// `used/total` of one resource in the legacy resource maps.
fn usage(agent: &Value, name: &str) -> String {
    let used = scalar(agent.get("used_resources"), name);
    let total = scalar(agent.get("resources"), name);
    format!("{}/{}", quantity(used), quantity(total))
}

/// `/master/slaves` as a table.
pub fn agents_table(slaves: &Value) -> Table {
    let mut t = Table::new(&["id", "hostname", "address", "active", "cpus", "mem (MB)"]);
    for a in list(slaves, "slaves") {
        t.push(vec![
            text(a, "id"),
            text(a, "hostname"),
            agent_address(&text(a, "pid")).unwrap_or_default(),
            text(a, "active"),
            usage(a, "cpus"),
            usage(a, "mem"),
        ]);
    }
    t
}

/// The frameworks `framework list` shows from `/master/frameworks`: the
/// active ones, or with `all` also the inactive and completed ones.
pub fn frameworks_shown(frameworks: &Value, all: bool) -> Vec<&Value> {
    let active = |f: &&Value| f.get("active").and_then(Value::as_bool) == Some(true);
    list(frameworks, "frameworks")
        .iter()
        .filter(|f| all || active(f))
        .chain(
            list(frameworks, "completed_frameworks")
                .iter()
                .filter(|_| all),
        )
        .collect()
}

pub fn frameworks_table(shown: &[&Value]) -> Table {
    let mut t = Table::new(&[
        "id",
        "name",
        "active",
        "connected",
        "hostname",
        "user",
        "tasks",
    ]);
    for f in shown {
        t.push(vec![
            text(f, "id"),
            text(f, "name"),
            text(f, "active"),
            text(f, "connected"),
            text(f, "hostname"),
            text(f, "user"),
            list(f, "tasks").len().to_string(),
        ]);
    }
    t
}

/// Whether a task in this state has ended for good (spec 3.1).
pub fn is_terminal(state: &str) -> bool {
    matches!(
        state,
        "TASK_FINISHED"
            | "TASK_FAILED"
            | "TASK_KILLED"
            | "TASK_LOST"
            | "TASK_ERROR"
            | "TASK_DROPPED"
            | "TASK_GONE"
            | "TASK_GONE_BY_OPERATOR"
    )
}

/// A task's state: its `state`, else the last of its `statuses`.
pub fn task_state(task: &Value) -> String {
    let s = text(task, "state");
    if !s.is_empty() {
        return s;
    }
    list(task, "statuses")
        .last()
        .map(|st| text(st, "state"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "UNKNOWN".into())
}

/// The tasks `task list` shows from `/master/tasks`: those that have not
/// ended, or with `all` every one.
pub fn tasks_shown(tasks: &Value, all: bool) -> Vec<&Value> {
    list(tasks, "tasks")
        .iter()
        .filter(|t| all || !is_terminal(&task_state(t)))
        .collect()
}

pub fn tasks_table(shown: &[&Value]) -> Table {
    let mut t = Table::new(&["id", "name", "state", "framework id", "agent id"]);
    for task in shown {
        t.push(vec![
            text(task, "id"),
            text(task, "name"),
            task_state(task),
            text(task, "framework_id"),
            text(task, "slave_id"),
        ]);
    }
    t
}

/// The one task `id` (of `framework`, when given) among `/master/tasks`'s.
/// Several frameworks may use the same task id: then the caller must say
/// which.
pub fn find_task<'a>(
    tasks: &'a Value,
    id: &str,
    framework: Option<&str>,
) -> Result<&'a Value, String> {
    let matches: Vec<&Value> = list(tasks, "tasks")
        .iter()
        .filter(|t| text(t, "id") == id)
        .filter(|t| framework.is_none_or(|f| text(t, "framework_id") == f))
        .collect();
    match matches.as_slice() {
        [] => Err(match framework {
            Some(f) => format!("No task '{id}' of framework '{f}' is known to the master"),
            None => format!("No task '{id}' is known to the master"),
        }),
        [one] => Ok(one),
        many => {
            let mut ids: Vec<String> = many.iter().map(|t| text(t, "framework_id")).collect();
            ids.dedup();
            Err(format!(
                "Task id '{id}' is used by several frameworks ({}); pass --framework",
                ids.join(", ")
            ))
        }
    }
}

/// `host:port` of an agent from its libprocess pid (`slave(1)@ip:port`).
pub fn agent_address(pid: &str) -> Option<String> {
    let (_, hostport) = pid.rsplit_once('@')?;
    let (host, port) = hostport.rsplit_once(':')?;
    (!host.is_empty() && port.parse::<u16>().is_ok()).then(|| hostport.to_string())
}

/// The `pid` of agent `id` in `/master/slaves`.
pub fn agent_pid(slaves: &Value, id: &str) -> Option<String> {
    list(slaves, "slaves")
        .iter()
        .find(|a| text(a, "id") == id)
        .map(|a| text(a, "pid"))
        .filter(|p| !p.is_empty())
}

/// Where a task runs on its agent, from the agent's `/state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    /// Host path of the executor's sandbox (also its `/files` path).
    pub directory: String,
    /// The executor's container id (empty if the agent did not say).
    pub container: String,
    /// Whether the executor is still running (not in `completed_executors`).
    pub live: bool,
    /// The tasks it runs that have not ended (killing its container ends
    /// them all).
    pub live_tasks: Vec<String>,
}

/// The sandbox of task `task_id` of `framework_id` in an agent's
/// `/state`: the executor that has the task among its running, queued or
/// completed tasks. Running executors are preferred, then the most
/// recent completed run (an executor id can be reused after it ended).
pub fn find_sandbox(state: &Value, framework_id: &str, task_id: &str) -> Option<Sandbox> {
    let has_task = |e: &Value| {
        ["tasks", "queued_tasks", "completed_tasks"]
            .iter()
            .any(|k| list(e, k).iter().any(|t| text(t, "id") == task_id))
    };
    let frameworks = list(state, "frameworks")
        .iter()
        .chain(list(state, "completed_frameworks"))
        .filter(|f| text(f, "id") == framework_id);
    let mut completed: Option<Sandbox> = None;
    for f in frameworks {
        for (key, live) in [("executors", true), ("completed_executors", false)] {
            for e in list(f, key).iter().filter(|e| has_task(e)) {
                let live_tasks = list(e, "tasks")
                    .iter()
                    .chain(list(e, "queued_tasks"))
                    .filter(|t| !is_terminal(&text(t, "state")))
                    .map(|t| text(t, "id"))
                    .collect();
                let sandbox = Sandbox {
                    directory: text(e, "directory"),
                    container: text(e, "container"),
                    live,
                    live_tasks,
                };
                if sandbox.directory.is_empty() {
                    continue;
                }
                if live {
                    return Some(sandbox);
                }
                // Completed executors are listed oldest first.
                completed = Some(sandbox);
            }
        }
    }
    completed
}

/// The master's quota (`/master/quota`: `configs`) as a table.
pub fn quota_table(quota: &Value) -> Table {
    let mut t = Table::new(&["role", "guarantees", "limits"]);
    for c in list(quota, "configs") {
        t.push(vec![
            text(c, "role"),
            scalar_map(c.get("guarantees")),
            scalar_map(c.get("limits")),
        ]);
    }
    t
}

/// `{"cpus": {"value": 1}, "mem": {"value": 512}}` as `cpus=1,mem=512`.
fn scalar_map(v: Option<&Value>) -> String {
    let Some(m) = v.and_then(Value::as_object) else {
        return String::new();
    };
    m.iter()
        .map(|(k, v)| {
            let x = v
                .get("value")
                .and_then(Value::as_f64)
                .or_else(|| v.as_f64());
            format!("{k}={}", x.map(quantity).unwrap_or_else(|| "?".into()))
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn machine(m: &Value) -> (String, String) {
    (text(m, "hostname"), text(m, "ip"))
}

fn nanos(v: Option<&Value>) -> Option<i64> {
    let n = v?.get("nanoseconds")?;
    n.as_i64().or_else(|| n.as_str()?.parse().ok())
}

/// Seconds since the epoch as UTC `YYYY-MM-DD HH:MM:SS` (days to civil
/// date after Howard Hinnant's algorithm, so no date crate is needed).
pub fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A duration in seconds as `1h30m`, `45s`.
pub fn span(secs: i64) -> String {
    if secs <= 0 {
        return "0s".into();
    }
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let mut out = String::new();
    for (n, unit) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

/// A maintenance schedule (`{"windows": [...]}`) as one row per machine.
pub fn schedule_table(schedule: &Value) -> Table {
    let mut t = Table::new(&["hostname", "ip", "start (UTC)", "duration"]);
    for w in list(schedule, "windows") {
        let unavailability = w.get("unavailability");
        let start = nanos(unavailability.and_then(|u| u.get("start")))
            .map(|n| utc(n.div_euclid(1_000_000_000)))
            .unwrap_or_default();
        let duration = nanos(unavailability.and_then(|u| u.get("duration")))
            .map(|n| span(n / 1_000_000_000))
            .unwrap_or_else(|| "forever".into());
        for m in list(w, "machine_ids") {
            let (host, ip) = machine(m);
            t.push(vec![host, ip, start.clone(), duration.clone()]);
        }
    }
    t
}

/// Maintenance status as one row per machine: DRAINING (with how its
/// frameworks answered the inverse offers) or DOWN.
pub fn status_table(status: &Value) -> Table {
    let mut t = Table::new(&["hostname", "ip", "mode", "inverse offers"]);
    for d in list(status, "draining_machines") {
        let (host, ip) = d.get("id").map(machine).unwrap_or_default();
        let answers: Vec<String> = list(d, "statuses")
            .iter()
            .map(|s| {
                let fw = s
                    .get("framework_id")
                    .map(|f| text(f, "value"))
                    .unwrap_or_default();
                format!("{fw}:{}", text(s, "status"))
            })
            .collect();
        t.push(vec![host, ip, "DRAINING".into(), answers.join(",")]);
    }
    for m in list(status, "down_machines") {
        let (host, ip) = machine(m);
        t.push(vec![host, ip, "DOWN".into(), String::new()]);
    }
    t
}

/// The human part of an error answer: the `message` of a JSON body, else
/// the body's first line, else the HTTP status.
pub fn error_message(status: u16, body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        for key in ["message", "error"] {
            let m = text(&v, key);
            if !m.is_empty() {
                return m;
            }
        }
    }
    let first = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if first.is_empty() {
        format!("HTTP {status}")
    } else {
        first.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agents_with_odd_fields() {
        let slaves = json!({"slaves": [
            {"id": "S0", "hostname": "h", "pid": "slave(1)@10.0.0.1:5051", "active": true,
             "resources": {"cpus": 4.0, "mem": 1024.0}, "used_resources": {"cpus": 0.5, "mem": 128.0}},
            {"id": 7, "pid": ["x"], "resources": "nope"},
            "not an object"
        ]});
        let text = agents_table(&slaves).render(None);
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 4);
        assert!(
            rows[1].contains("10.0.0.1:5051")
                && rows[1].contains("0.5/4")
                && rows[1].contains("128/1024")
        );
        assert!(rows[2].starts_with("7 "));
        assert_eq!(agents_table(&json!(null)).len(), 0);
        assert_eq!(agents_table(&json!({"slaves": {}})).len(), 0);
    }

    #[test]
    fn frameworks_active_or_all() {
        let fws = json!({
            "frameworks": [{"id": "F1", "name": "a", "active": true, "tasks": [{}, {}]},
                           {"id": "F2", "name": "b", "active": false}],
            "completed_frameworks": [{"id": "F0", "name": "old", "active": false}]
        });
        let t = frameworks_table(&frameworks_shown(&fws, false)).render(None);
        assert!(t.contains("F1") && !t.contains("F2") && !t.contains("F0"));
        assert!(t.lines().nth(1).unwrap().trim_end().ends_with('2'));
        let t = frameworks_table(&frameworks_shown(&fws, true)).render(None);
        assert!(t.contains("F1") && t.contains("F2") && t.contains("F0"));
    }

    #[test]
    fn tasks_live_or_all_and_lookup() {
        let tasks = json!({"tasks": [
            {"id": "t1", "state": "TASK_RUNNING", "framework_id": "F1", "slave_id": "S0"},
            {"id": "t2", "statuses": [{"state": "TASK_RUNNING"}, {"state": "TASK_FINISHED"}], "framework_id": "F1"},
            {"id": "t1", "state": "TASK_FINISHED", "framework_id": "F2"},
            {"id": "t3"}
        ]});
        let live = tasks_table(&tasks_shown(&tasks, false)).render(None);
        assert!(live.contains("TASK_RUNNING") && !live.contains("TASK_FINISHED"));
        assert!(
            live.contains("UNKNOWN"),
            "a task without any state is shown"
        );
        assert_eq!(tasks_shown(&tasks, true).len(), 4);

        assert_eq!(
            text(find_task(&tasks, "t2", None).unwrap(), "framework_id"),
            "F1"
        );
        let e = find_task(&tasks, "t1", None).unwrap_err();
        assert!(e.contains("F1, F2") && e.contains("--framework"), "{e}");
        assert_eq!(
            text(find_task(&tasks, "t1", Some("F2")).unwrap(), "state"),
            "TASK_FINISHED"
        );
        assert!(
            find_task(&tasks, "nope", None)
                .unwrap_err()
                .contains("No task 'nope'")
        );
        assert!(find_task(&json!([]), "t1", None).is_err());
    }

    #[test]
    fn agent_addresses() {
        assert_eq!(
            agent_address("slave(1)@10.1.2.3:5051").as_deref(),
            Some("10.1.2.3:5051")
        );
        assert_eq!(
            agent_address("slave(1)@[::1]:5051").as_deref(),
            Some("[::1]:5051")
        );
        for bad in [
            "",
            "slave(1)",
            "slave(1)@host",
            "slave(1)@:5051",
            "slave(1)@h:x",
        ] {
            assert_eq!(agent_address(bad), None, "{bad}");
        }
        let slaves = json!({"slaves": [{"id": "S0", "pid": "slave(1)@h:1"}, {"id": "S1"}]});
        assert_eq!(agent_pid(&slaves, "S0").as_deref(), Some("slave(1)@h:1"));
        assert_eq!(agent_pid(&slaves, "S1"), None);
        assert_eq!(agent_pid(&slaves, "S9"), None);
    }

    #[test]
    fn sandbox_of_a_task() {
        let state = json!({
            "frameworks": [{"id": "F1",
                "executors": [{"id": "t1", "directory": "/w/run2", "container": "c2", "tasks": [{"id": "t1"}]}],
                "completed_executors": [
                    {"id": "t1", "directory": "/w/run1", "container": "c1", "completed_tasks": [{"id": "t1"}]},
                    {"id": "t2", "directory": "/w/t2a", "completed_tasks": [{"id": "t2"}]},
                    {"id": "t2", "directory": "/w/t2b", "completed_tasks": [{"id": "t2"}]}
                ]}],
            "completed_frameworks": [{"id": "F0", "completed_executors": [
                {"id": "e", "directory": "/w/old", "completed_tasks": [{"id": "x"}]}]}]
        });
        let s = find_sandbox(&state, "F1", "t1").unwrap();
        assert_eq!(
            (s.directory.as_str(), s.container.as_str(), s.live),
            ("/w/run2", "c2", true)
        );
        assert_eq!(s.live_tasks, vec!["t1".to_string()]);
        let s = find_sandbox(&state, "F1", "t2").unwrap();
        assert_eq!((s.directory.as_str(), s.live), ("/w/t2b", false));
        assert_eq!(find_sandbox(&state, "F0", "x").unwrap().directory, "/w/old");
        assert_eq!(find_sandbox(&state, "F2", "t1"), None);
        assert_eq!(find_sandbox(&state, "F1", "zz"), None);
        // Queued tasks have a sandbox too; an executor without a directory does not count.
        let q = json!({"frameworks": [{"id": "F", "executors": [
            {"id": "e0", "queued_tasks": [{"id": "q"}]},
            {"id": "e", "directory": "/d", "queued_tasks": [{"id": "q"}]}]}]});
        assert_eq!(find_sandbox(&q, "F", "q").unwrap().directory, "/d");
        assert_eq!(find_sandbox(&json!("junk"), "F", "q"), None);
    }

    #[test]
    fn quota_rows() {
        let q = json!({"configs": [
            {"role": "dev", "guarantees": {"cpus": {"value": 1.0}, "mem": {"value": 512.0}}, "limits": {"cpus": {"value": 2.5}}},
            {"role": "x", "guarantees": "odd"}
        ]});
        let t = quota_table(&q).render(None);
        assert!(
            t.contains("cpus=1,mem=512") && t.contains("cpus=2.5"),
            "{t}"
        );
        assert_eq!(quota_table(&json!({})).len(), 0);
    }

    #[test]
    fn maintenance_rows() {
        let schedule = json!({"windows": [{
            "machine_ids": [{"hostname": "h1", "ip": "10.0.0.1"}, {"hostname": "h2"}],
            "unavailability": {"start": {"nanoseconds": 1_700_000_000_000_000_000i64},
                               "duration": {"nanoseconds": 5_400_000_000_000i64}}}]});
        let t = schedule_table(&schedule).render(None);
        assert!(
            t.contains("2023-11-14 22:13:20") && t.contains("1h30m"),
            "{t}"
        );
        assert_eq!(schedule_table(&schedule).len(), 2);
        assert_eq!(schedule_table(&json!({})).len(), 0);
        let status = json!({
            "draining_machines": [{"id": {"hostname": "h1"}, "statuses": [{"framework_id": {"value": "F1"}, "status": "ACCEPT"}]}],
            "down_machines": [{"hostname": "h2", "ip": "10.0.0.2"}]});
        let t = status_table(&status).render(None);
        assert!(
            t.contains("DRAINING") && t.contains("F1:ACCEPT") && t.contains("DOWN"),
            "{t}"
        );
    }

    #[test]
    fn dates_and_spans() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(-1), "1969-12-31 23:59:59");
        assert_eq!(span(90_061), "1d1h1m1s");
        assert_eq!(span(0), "0s");
        assert_eq!(quantity(0.1 + 0.2), "0.3");
        assert_eq!(quantity(512.0), "512");
    }

    #[test]
    fn error_messages() {
        assert_eq!(error_message(400, r#"{"message": "bad role"}"#), "bad role");
        assert_eq!(
            error_message(400, "Failed to validate\nmore"),
            "Failed to validate"
        );
        assert_eq!(error_message(503, ""), "HTTP 503");
        assert_eq!(error_message(500, "[1]"), "[1]");
    }
}
