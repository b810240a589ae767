//! The Agents page and an agent's page (resources, attributes,
//! reservations, its frameworks, executors and tasks, its log).

use super::frameworks::resources_text;
use super::tasks::three_tables;
use super::{KINDS, Outcome, Request, agent_href, amount, framework_href, id_link};
use crate::master::{AgentEntry, Master};
use mesos_types::Resources;
use mesos_types::task_state::is_terminal;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use webui::Html;
use webui::blocks::{grid, heading, join, matrix, panel};
use webui::format::{count, time};
use webui::table::{Column, TableQuery, TableSpec, cmp_f64, contains, page_of};

/// What Mesos's UI calls the agent's state.
pub(crate) fn agent_state(m: &Master, a: &AgentEntry) -> &'static str {
    match m.agent_states.get(&a.id) {
        Some(s)
            if s.drain_info
                .as_ref()
                .is_some_and(|d| format!("{:?}", d.state) == "DRAINED") =>
        {
            "Drained"
        }
        Some(s) if s.drain_info.is_some() => "Draining",
        Some(s) if s.deactivated => "Deactivated",
        _ if a.subscription.is_none() => "Disconnected",
        _ => "Active",
    }
}

/// Offered resources of an agent.
fn offered(m: &Master, a: &AgentEntry) -> Resources {
    let mut r = Resources::new();
    for o in a.offers.iter().filter_map(|id| m.offers.get(id)) {
        r.add(&o.resources.unallocated());
    }
    r
}

/// What of kind `k` an agent's tasks and executors hold: neither free
/// nor offered, as the allocator sees it.
fn allocated_of(m: &Master, a: &AgentEntry, k: &str) -> f64 {
    match m.allocator.free_scalar(&a.id, k) {
        Some(free) => {
            let offered: f64 = (a.offers.iter())
                .filter_map(|id| m.offers.get(id))
                .map(|o| o.resources.scalar(k))
                .sum();
            (a.total.scalar(k) - free - offered).max(0.0)
        }
        None => a.used_resources(m).scalar(k),
    }
}

/// Allocated and total, by kind.
fn usage(m: &Master, a: &AgentEntry) -> ([f64; 4], [f64; 4]) {
    (
        KINDS.map(|k| allocated_of(m, a, k)),
        KINDS.map(|k| a.total.scalar(k)),
    )
}

const COLS: [Column; 9] = [
    Column::sortable("ID"),
    Column::sortable("Host"),
    Column::sortable("State"),
    Column::sortable("CPUs (Allocated / Total)"),
    Column::sortable("GPUs (Allocated / Total)"),
    Column::sortable("Mem (Allocated / Total)"),
    Column::sortable("Disk (Allocated / Total)"),
    Column::sortable("Registered"),
    Column::sortable("Re-Registered"),
];

/// `/ui/agents`.
pub(crate) fn list(m: &Master, req: &Request) -> Outcome {
    let q = TableQuery::parse("agents", &req.params, &COLS, (1, false));
    // Ordered by a resource column: by what is allocated of it (the
    // cell's first number), computed once per agent.
    let kind = (3..=6).contains(&q.sort).then(|| KINDS[q.sort - 3]);
    let rows: Vec<(&AgentEntry, &'static str, f64)> = (m.agents.values())
        .map(|a| {
            (
                a,
                agent_state(m, a),
                kind.map_or(0.0, |k| allocated_of(m, a, k)),
            )
        })
        .collect();
    let paged = page_of(
        rows,
        &q,
        |(a, state, _), s| {
            contains(&a.id.value, s)
                || contains(&a.info.hostname, s)
                || contains(&a.ip, s)
                || contains(state, s)
        },
        |(a, sa, ka), (b, sb, kb), col| {
            let o = match col {
                1 => a.info.hostname.cmp(&b.info.hostname),
                2 => sa.cmp(sb),
                3..=6 => cmp_f64(*ka, *kb),
                7 => cmp_f64(a.registered_time, b.registered_time),
                8 => cmp_f64(
                    a.reregistered_time.unwrap_or(0.0),
                    b.reregistered_time.unwrap_or(0.0),
                ),
                _ => Ordering::Equal,
            };
            o.then_with(|| a.id.value.cmp(&b.id.value))
        },
    );
    let table = paged.render(
        &TableSpec {
            id: "agents",
            caption: "Agents",
            columns: &COLS,
            empty: "No agents.",
        },
        &q,
        &req.path,
        &req.params,
        |(a, state, _)| {
            let (allocated, total) = usage(m, a);
            let mut row = vec![
                id_link(&agent_href(&a.id.value), &a.id.value),
                Html::link(&agent_href(&a.id.value), &a.info.hostname),
                Html::text(state),
            ];
            for (i, k) in KINDS.iter().enumerate() {
                row.push(Html::text(&format!(
                    "{} / {}",
                    amount(k, allocated[i]),
                    amount(k, total[i])
                )));
            }
            row.push(time(a.registered_time));
            row.push(time(a.reregistered_time.unwrap_or(0.0)));
            row
        },
    );
    Outcome::page(
        "Agents",
        Some("Agents"),
        join([heading("Agents", &[]), table]),
    )
}

/// The role a resource is reserved for (its last reservation), or `*`.
fn reservation_role(r: &mesos_types::Resource) -> String {
    r.reservations
        .last()
        .and_then(|x| x.role.clone())
        .or_else(|| r.role.clone().filter(|x| x != "*"))
        .unwrap_or_else(|| "*".into())
}

/// `/ui/agents/<id>`.
pub(crate) fn detail(m: &Master, id: &str, req: &Request) -> Outcome {
    let Some(a) = m.agents.get(&mesos_types::AgentID::new(id)) else {
        return Outcome::NotFound(format!(
            "No agent '{id}' is registered{}.",
            if m.unreachable_agents
                .contains_key(&mesos_types::AgentID::new(id))
            {
                " (it is unreachable)"
            } else {
                ""
            }
        ));
    };
    let attributes: Vec<String> = a
        .info
        .attributes
        .iter()
        .map(|at| serde_json::to_string(at).unwrap_or_default())
        .collect();
    let mut rows = vec![
        ("ID", Html::text(&a.id.value)),
        ("Host", Html::text(&a.info.hostname)),
        ("Address", Html::text(&format!("{}:{}", a.ip, a.info.port))),
        ("Version", Html::text(&a.version)),
        ("State", Html::text(agent_state(m, a))),
        ("Registered", time(a.registered_time)),
        ("Re-registered", time(a.reregistered_time.unwrap_or(0.0))),
        ("Attributes", Html::text(&attributes.join(", "))),
        (
            "Agent log",
            Html::link(&super::file_href(id, "/slave/log"), "View"),
        ),
    ];
    if let Some(d) = m
        .agent_states
        .get(&a.id)
        .and_then(|s| s.drain_info.as_ref())
    {
        rows.push(("Draining", Html::text(&format!("{:?}", d.state))));
    }
    let info = panel("Agent", &rows);
    let (allocated, total) = usage(m, a);
    let off = offered(m, a);
    let resources = matrix(
        "Resources",
        &["", "CPUs", "GPUs", "Mem", "Disk"],
        &[
            (
                "Allocated",
                KINDS
                    .iter()
                    .zip(allocated)
                    .map(|(k, v)| amount(k, v))
                    .collect(),
            ),
            (
                "Offered",
                KINDS.iter().map(|k| amount(k, off.scalar(k))).collect(),
            ),
            (
                "Available",
                KINDS
                    .iter()
                    .enumerate()
                    .map(|(i, k)| amount(k, (total[i] - allocated[i] - off.scalar(k)).max(0.0)))
                    .collect(),
            ),
            (
                "Total",
                KINDS.iter().zip(total).map(|(k, v)| amount(k, v)).collect(),
            ),
        ],
    );
    // Reservations by role, with the unreserved rest.
    let mut by_role: BTreeMap<String, Resources> = BTreeMap::new();
    for r in a.total.iter() {
        by_role
            .entry(reservation_role(r))
            .or_default()
            .add(&std::iter::once(r.clone()).collect());
    }
    let reservations = matrix(
        "Reservations",
        &["Role", "CPUs", "GPUs", "Mem", "Disk"],
        &by_role
            .iter()
            .map(|(role, r)| {
                let label: &str = if role == "*" { "Unreserved" } else { role };
                (
                    label,
                    KINDS.iter().map(|k| amount(k, r.scalar(k))).collect(),
                )
            })
            .collect::<Vec<_>>(),
    );
    let side = join([info, resources, reservations]);

    // This agent's frameworks: live tasks on it, and their usage.
    let mut frameworks: BTreeMap<&str, (usize, Resources)> = BTreeMap::new();
    for (fid, tid) in &a.tasks {
        if let Some(t) = m.frameworks.get(fid).and_then(|f| f.tasks.get(tid)) {
            let e = frameworks.entry(fid.value.as_str()).or_default();
            if !is_terminal(t.state) {
                e.0 += 1;
            }
            if !t.resources_released {
                e.1.add(&t.resources);
            }
        }
    }
    let mut fw_rows = String::new();
    for (fid, (active, res)) in &frameworks {
        let f = m.frameworks.get(&mesos_types::FrameworkID::new(*fid));
        fw_rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            id_link(&framework_href(fid), fid),
            Html::text(f.map(|f| f.info.name.as_str()).unwrap_or("")),
            Html::text(f.map(|f| f.info.user.as_str()).unwrap_or("")),
            Html::text(&count(*active as u64)),
            Html::text(&resources_text(res)),
        ));
    }
    let fw_table = Html::trusted(format!(
        "<section class=\"ui-table\"><div class=\"ui-table-head\"><h2>Frameworks <span class=\"ui-count\">{}</span></h2></div>\
         <div class=\"ui-scroll\"><table><thead><tr><th>ID</th><th>Name</th><th>User</th><th>Active Tasks</th><th>Allocated</th></tr></thead>\
         <tbody>{}</tbody></table></div></section>",
        frameworks.len(),
        if fw_rows.is_empty() {
            "<tr class=\"ui-empty\"><td colspan=\"5\">No frameworks run tasks here.</td></tr>"
                .to_string()
        } else {
            fw_rows
        }
    ));
    let live = (a.tasks.iter())
        .filter_map(|(fid, tid)| m.frameworks.get(fid).and_then(|f| f.tasks.get(tid)))
        .map(|t| (t, false));
    let done = (m.frameworks.values())
        .chain(m.completed_frameworks.iter())
        .flat_map(|f| f.completed_tasks.iter())
        .filter(|t| t.agent_id == a.id)
        .map(|t| (t, true));
    let tasks = three_tables(m, live.chain(done), true, false, req);
    let on_agent: Vec<_> = (m.frameworks.values())
        .flat_map(|f| {
            (f.executors.get_key_value(&a.id).into_iter())
                .flat_map(move |(aid, execs)| execs.iter().map(move |(eid, e)| (f, aid, eid, e)))
        })
        .collect();
    let executors = super::frameworks::executors(m, on_agent, req);
    let body = join([
        heading(&a.info.hostname, &[("Agents", Some("/ui/agents".into()))]),
        grid(&side, &join([fw_table, executors, tasks])),
    ]);
    Outcome::page(format!("Agent {}", a.info.hostname), Some("Agents"), body)
}
