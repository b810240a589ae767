//! `/metrics/snapshot` (spec 6.7): a flat object of the master's gauges and
//! counters. The book's part is read under its lock in time proportional to
//! the live tasks, agents and frameworks (never the completed-task lists:
//! terminal task counts are counters kept as tasks end, so pruning old
//! tasks does not lower them); the `system/*` keys are read from `/proc`
//! without the lock.

use crate::master::{Master, TERMINAL_STATES};
use mesos_types::TaskState;
use mesos_types::task_state::is_terminal;
use serde_json::{Map, Value as Json, json};

/// The task states whose counts are gauges (how many tasks are in the
/// state now); the terminal ones are counters.
const LIVE_STATES: [TaskState; 5] = [
    TaskState::TASK_STAGING,
    TaskState::TASK_STARTING,
    TaskState::TASK_RUNNING,
    TaskState::TASK_KILLING,
    TaskState::TASK_UNREACHABLE,
];

/// `master/tasks_<state>` for `TASK_<STATE>`.
fn task_key(s: TaskState) -> String {
    format!(
        "master/tasks_{}",
        s.as_str().trim_start_matches("TASK_").to_lowercase()
    )
}

/// Tasks by state as the `master/tasks_<state>` metrics count them (live
/// states from the live tasks, ended ones from the counters), and the
/// number of tasks not ended.
pub fn task_counts(m: &Master) -> (Vec<(TaskState, u64)>, u64) {
    // Gauges from the live tasks (completed frameworks hold none).
    let mut live = [0u64; LIVE_STATES.len()];
    let mut active_tasks = 0u64;
    for t in m.frameworks.values().flat_map(|f| f.tasks.values()) {
        if let Some(i) = LIVE_STATES.iter().position(|s| *s == t.state) {
            live[i] += 1;
        }
        if !is_terminal(t.state) {
            active_tasks += 1;
        }
    }
    let mut counts: Vec<(TaskState, u64)> = LIVE_STATES.iter().copied().zip(live).collect();
    for s in TERMINAL_STATES {
        counts.push((s, m.counters.tasks_ended.get(s)));
    }
    (counts, active_tasks)
}

/// The book's metrics (`master/*`, `allocator/*`, `registrar/*`).
pub fn metrics(m: &Master, now: f64) -> Map<String, Json> {
    let mut o = Map::new();
    let mut put = |k: &str, v: f64| {
        o.insert(k.to_string(), json!(v));
    };
    put(
        "master/elected",
        if m.elected_time.is_some() { 1.0 } else { 0.0 },
    );
    put("master/uptime_secs", (now - m.start_time).max(0.0));
    put(
        "master/operator_event_stream_subscribers",
        m.operator_subscribers.open() as f64,
    );
    let active = m.agents.values().filter(|a| a.connected()).count() as f64;
    put("master/slaves_active", active);
    put("master/slaves_connected", active);
    put("master/slaves_inactive", m.agents.len() as f64 - active);
    put("master/slaves_disconnected", m.agents.len() as f64 - active);
    put(
        "master/slaves_unreachable",
        m.unreachable_agents.len() as f64,
    );
    let fa = m.frameworks.values().filter(|f| f.connected()).count() as f64;
    put("master/frameworks_active", fa);
    put("master/frameworks_connected", fa);
    put("master/frameworks_inactive", m.frameworks.len() as f64 - fa);
    put(
        "master/frameworks_disconnected",
        m.frameworks.len() as f64 - fa,
    );
    put("master/outstanding_offers", m.offers.len() as f64);

    let (counts, active_tasks) = task_counts(m);
    for (s, n) in counts {
        put(&task_key(s), n as f64);
    }
    put("master/tasks_active", active_tasks as f64);
    let c = &m.counters;

    let (total, used, _) = m.cluster_resources();
    for r in ["cpus", "gpus", "mem", "disk"] {
        let (t, u) = (total.scalar(r), used.scalar(r));
        put(&format!("master/{r}_total"), t);
        put(&format!("master/{r}_used"), u);
        put(
            &format!("master/{r}_percent"),
            if t > 0.0 { u / t } else { 0.0 },
        );
    }
    put("master/valid_status_updates", c.valid_status_updates as f64);
    put(
        "master/invalid_status_updates",
        c.invalid_status_updates as f64,
    );
    put(
        "master/valid_status_update_acknowledgements",
        c.valid_acks as f64,
    );
    put(
        "master/invalid_status_update_acknowledgements",
        c.invalid_acks as f64,
    );
    put("master/messages_launch_tasks", c.launched_tasks as f64);
    for name in [
        "register_framework",
        "unregister_framework",
        "accept_offers",
        "decline_offers",
        "revive_offers",
        "suppress_offers",
        "kill_task",
        "shutdown_executor",
        "status_update_acknowledgement",
        "reconcile_tasks",
        "framework_to_executor",
        "inverse_offers",
    ] {
        let n = c.scheduler_messages.get(name).copied().unwrap_or(0);
        put(&format!("master/messages_{name}"), n as f64);
    }
    put(
        "master/messages_status_update",
        (c.valid_status_updates + c.invalid_status_updates) as f64,
    );
    put(
        "master/messages_register_slave",
        c.agent_registrations as f64,
    );
    put(
        "master/messages_reregister_slave",
        c.agent_reregistrations as f64,
    );
    put("master/slave_registrations", c.agent_registrations as f64);
    put(
        "master/slave_reregistrations",
        c.agent_reregistrations as f64,
    );
    put("master/slave_removals", c.agent_removals as f64);
    put(
        "master/slave_removals/reason_unhealthy",
        c.agent_removals_unhealthy as f64,
    );
    // Agents never unregister themselves here, and a registration never
    // replaces another agent at the same address: these stay 0.
    put("master/slave_removals/reason_unregistered", 0.0);
    put("master/slave_removals/reason_registered", 0.0);
    put(
        "master/recovery_slave_removals",
        c.recovery_agent_removals as f64,
    );
    put(
        "master/slave_unreachable_scheduled",
        c.unreachable_scheduled as f64,
    );
    put(
        "master/slave_unreachable_completed",
        c.agents_marked_unreachable as f64,
    );
    put(
        "master/slave_unreachable_canceled",
        c.unreachable_canceled as f64,
    );
    put("allocator/mesos/allocation_runs", c.allocation_runs as f64);
    put(
        "registrar/queued_operations",
        m.registry.queued_operations() as f64,
    );
    o
}
