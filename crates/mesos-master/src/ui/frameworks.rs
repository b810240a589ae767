//! The Frameworks page (active, inactive and completed frameworks) and a
//! framework's page (its tasks, executors, offers, roles, capabilities).

use super::tasks::three_tables;
use super::{KINDS, Outcome, Request, agent_href, amount, cluster_totals, framework_href, id_link};
use crate::master::{FrameworkEntry, Master};
use mesos_types::Resources;
use mesos_types::task_state::is_terminal;
use std::cmp::Ordering;
use webui::Html;
use webui::blocks::{counts, grid, heading, join, matrix, panel};
use webui::format::{count, percent, time};
use webui::table::{Column, TableQuery, TableSpec, cmp_f64, contains, page_of};

/// Resources a framework's tasks (not yet released) and executors hold,
/// by kind ([`KINDS`]), summed as scalars.
pub(crate) fn used(f: &FrameworkEntry) -> [f64; 4] {
    let mut used = [0.0; 4];
    let held = (f.tasks.values())
        .filter(|t| !t.resources_released)
        .map(|t| &t.resources)
        .chain(
            f.executors
                .values()
                .flat_map(|e| e.values().map(|(_, r, _)| r)),
        );
    for r in held {
        super::add_scalars(&mut used, r);
    }
    used
}

fn active_tasks(f: &FrameworkEntry) -> usize {
    f.tasks.values().filter(|t| !is_terminal(t.state)).count()
}

fn roles(f: &FrameworkEntry) -> String {
    f.info.effective_roles().join(", ")
}

/// One row of a frameworks table, computed once per request.
struct Row<'a> {
    f: &'a FrameworkEntry,
    active: usize,
    used: [f64; 4],
    share: f64,
}

const LIVE_COLS: [Column; 14] = [
    Column::sortable("ID"),
    Column::sortable("Host"),
    Column::sortable("User"),
    Column::sortable("Name"),
    Column::sortable("Roles"),
    Column::sortable("Principal"),
    Column::sortable("Active Tasks"),
    Column::sortable("CPUs"),
    Column::sortable("GPUs"),
    Column::sortable("Mem"),
    Column::sortable("Disk"),
    Column::sortable("Max Share"),
    Column::sortable("Registered"),
    Column::sortable("Re-Registered"),
];

const DONE_COLS: [Column; 8] = [
    Column::sortable("ID"),
    Column::sortable("Host"),
    Column::sortable("User"),
    Column::sortable("Name"),
    Column::sortable("Roles"),
    Column::sortable("Principal"),
    Column::sortable("Registered"),
    Column::sortable("Unregistered"),
];

fn name_html(f: &FrameworkEntry) -> Html {
    match f.info.webui_url.as_deref() {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Html::link(url, &f.info.name)
        }
        _ => Html::text(&f.info.name),
    }
}

fn text_cmp(a: &Row, b: &Row, col: usize) -> Ordering {
    let (x, y) = (&a.f.info, &b.f.info);
    match col {
        1 => x.hostname.cmp(&y.hostname),
        2 => x.user.cmp(&y.user),
        3 => x.name.cmp(&y.name),
        4 => roles(a.f).cmp(&roles(b.f)),
        5 => x.principal.cmp(&y.principal),
        _ => Ordering::Equal,
    }
}

fn keep(r: &Row, q: &str) -> bool {
    let i = &r.f.info;
    contains(&r.f.id.value, q)
        || contains(&i.name, q)
        || contains(&i.user, q)
        || contains(i.hostname.as_deref().unwrap_or(""), q)
        || contains(&roles(r.f), q)
        || contains(i.principal.as_deref().unwrap_or(""), q)
}

#[allow(clippy::too_many_arguments)]
fn table(id: &str, caption: &str, rows: Vec<Row>, completed: bool, req: &Request) -> Html {
    let columns: &[Column] = if completed { &DONE_COLS } else { &LIVE_COLS };
    let q = TableQuery::parse(id, &req.params, columns, (0, false));
    let paged = page_of(rows, &q, keep, |a, b, col| {
        let o = match (completed, col) {
            (_, 0) => Ordering::Equal,
            (_, 1..=5) => text_cmp(a, b, col),
            (false, 6) => a.active.cmp(&b.active),
            (false, 7..=10) => cmp_f64(a.used[col - 7], b.used[col - 7]),
            (false, 11) => cmp_f64(a.share, b.share),
            (false, 12) | (true, 6) => cmp_f64(a.f.registered_time, b.f.registered_time),
            (false, _) => cmp_f64(
                a.f.reregistered_time.unwrap_or(0.0),
                b.f.reregistered_time.unwrap_or(0.0),
            ),
            (true, _) => cmp_f64(a.f.unregistered_time, b.f.unregistered_time),
        };
        o.then_with(|| a.f.id.value.cmp(&b.f.id.value))
    });
    paged.render(
        &TableSpec {
            id,
            caption,
            columns,
            empty: "No frameworks.",
        },
        &q,
        &req.path,
        &req.params,
        |r| {
            let i = &r.f.info;
            let mut row = vec![
                id_link(&framework_href(&r.f.id.value), &r.f.id.value),
                Html::text(i.hostname.as_deref().unwrap_or("")),
                Html::text(&i.user),
                name_html(r.f),
                Html::text(&roles(r.f)),
                Html::text(i.principal.as_deref().unwrap_or("")),
            ];
            if completed {
                row.push(time(r.f.registered_time));
                row.push(time(r.f.unregistered_time));
            } else {
                row.push(Html::text(&count(r.active as u64)));
                for (k, v) in KINDS.iter().zip(r.used) {
                    row.push(Html::text(&amount(k, v)));
                }
                row.push(Html::text(&percent(r.share)));
                row.push(time(r.f.registered_time));
                row.push(time(r.f.reregistered_time.unwrap_or(0.0)));
            }
            row
        },
    )
}

fn row<'a>(f: &'a FrameworkEntry, totals: &[f64; 4]) -> Row<'a> {
    let used = used(f);
    let share = used
        .iter()
        .zip(totals)
        .filter(|(_, t)| **t > 0.0)
        .map(|(u, t)| u / t)
        .fold(0.0, f64::max);
    Row {
        f,
        active: active_tasks(f),
        used,
        share,
    }
}

/// `/ui/frameworks`.
pub(crate) fn list(m: &Master, req: &Request) -> Outcome {
    let totals = cluster_totals(m);
    let (active, inactive): (Vec<_>, Vec<_>) = m
        .frameworks
        .values()
        .map(|f| row(f, &totals))
        .partition(|r| r.f.subscription.is_some());
    let completed = m
        .completed_frameworks
        .iter()
        .map(|f| row(f, &totals))
        .collect();
    let body = join([
        heading("Frameworks", &[]),
        table("active", "Active Frameworks", active, false, req),
        table("inactive", "Inactive Frameworks", inactive, false, req),
        table("completed", "Completed Frameworks", completed, true, req),
    ]);
    Outcome::page("Frameworks", Some("Frameworks"), body)
}

/// `/ui/frameworks/<id>`.
pub(crate) fn detail(m: &Master, id: &str, req: &Request) -> Outcome {
    let fid = mesos_types::FrameworkID::new(id);
    let live = m.frameworks.get(&fid);
    let completed = live.is_none();
    let Some(f) = live.or_else(|| m.completed_frameworks.iter().find(|f| f.id == fid)) else {
        return Outcome::NotFound(format!("No framework '{id}' is known."));
    };
    let i = &f.info;
    let status = if completed {
        "Completed"
    } else if f.subscription.is_some() {
        "Active"
    } else {
        "Inactive"
    };
    let caps: Vec<String> = (i.capabilities.iter())
        .filter_map(|c| c.kind.map(|k| format!("{k:?}")))
        .collect();
    let info = panel(
        "Framework",
        &[
            ("ID", Html::text(&f.id.value)),
            ("Name", Html::text(&i.name)),
            ("Status", Html::text(status)),
            (
                "Web UI",
                match i.webui_url.as_deref() {
                    Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                        Html::link(u, u)
                    }
                    Some(u) => Html::text(u),
                    None => Html::text("-"),
                },
            ),
            ("User", Html::text(&i.user)),
            ("Host", Html::text(i.hostname.as_deref().unwrap_or("-"))),
            ("Roles", Html::text(&roles(f))),
            (
                "Principal",
                Html::text(i.principal.as_deref().unwrap_or("-")),
            ),
            ("Capabilities", Html::text(&caps.join(", "))),
            (
                "Checkpoint",
                Html::text(if i.checkpoint { "yes" } else { "no" }),
            ),
            (
                "Failover timeout",
                Html::text(&webui::format::duration(i.failover_timeout)),
            ),
            ("Registered", time(f.registered_time)),
            ("Re-registered", time(f.reregistered_time.unwrap_or(0.0))),
            ("Active tasks", Html::text(&count(active_tasks(f) as u64))),
        ],
    );
    let mut by_state: std::collections::BTreeMap<&str, u64> = Default::default();
    for t in f.tasks.values().chain(f.completed_tasks.iter()) {
        *by_state
            .entry(super::tasks::state_name(t.state))
            .or_default() += 1;
    }
    let state_counts: Vec<(&str, String)> = [
        ("Staging", "TASK_STAGING"),
        ("Starting", "TASK_STARTING"),
        ("Running", "TASK_RUNNING"),
        ("Unreachable", "TASK_UNREACHABLE"),
        ("Killing", "TASK_KILLING"),
        ("Finished", "TASK_FINISHED"),
        ("Killed", "TASK_KILLED"),
        ("Failed", "TASK_FAILED"),
        ("Lost", "TASK_LOST"),
    ]
    .iter()
    .map(|(label, s)| (*label, count(by_state.get(*s).copied().unwrap_or(0))))
    .collect();
    let u = used(f);
    let mut offered = Resources::new();
    for o in f.offers.iter().filter_map(|id| m.offers.get(id)) {
        offered.add(&o.resources);
    }
    let resources = matrix(
        "Resources",
        &["", "CPUs", "GPUs", "Mem", "Disk"],
        &[
            (
                "Allocated",
                KINDS.iter().zip(u).map(|(k, v)| amount(k, v)).collect(),
            ),
            (
                "Offered",
                KINDS.iter().map(|k| amount(k, offered.scalar(k))).collect(),
            ),
        ],
    );
    let side = join([info, counts("Tasks", &state_counts), resources]);
    let tasks = three_tables(
        m,
        (f.tasks.values())
            .map(|t| (t, completed))
            .chain(f.completed_tasks.iter().map(|t| (t, true))),
        false,
        true,
        req,
    );
    let main = join([
        tasks,
        executors(m, framework_executors(f), req),
        super::cluster::offer_table(m, Some(f), req),
    ]);
    let body = join([
        heading(&i.name, &[("Frameworks", Some("/ui/frameworks".into()))]),
        grid(&side, &main),
    ]);
    Outcome::page(format!("Framework {}", i.name), Some("Frameworks"), body)
}

const EXECUTOR_COLS: [Column; 7] = [
    Column::sortable("Executor ID"),
    Column::sortable("Name"),
    Column::sortable("Framework"),
    Column::sortable("Agent"),
    Column::sortable("Role"),
    Column::plain("Resources"),
    Column::plain("Sandbox"),
];

/// A custom executor: its framework, agent, id and what the book keeps.
pub(crate) type ExecutorRow<'a> = (
    &'a FrameworkEntry,
    &'a mesos_types::AgentID,
    &'a mesos_types::ExecutorID,
    &'a (mesos_types::ExecutorInfo, Resources, String),
);

/// A framework's custom executors, by agent.
pub(crate) fn framework_executors(f: &FrameworkEntry) -> Vec<ExecutorRow<'_>> {
    (f.executors.iter())
        .flat_map(|(aid, execs)| execs.iter().map(move |(eid, e)| (f, aid, eid, e)))
        .collect()
}

/// Custom executors (command tasks run under the built-in executor and
/// show in the task tables).
pub(crate) fn executors(m: &Master, rows: Vec<ExecutorRow>, req: &Request) -> Html {
    let q = TableQuery::parse("executors", &req.params, &EXECUTOR_COLS, (0, false));
    let host = |aid: &mesos_types::AgentID| {
        m.agents
            .get(aid)
            .map(|a| a.info.hostname.clone())
            .unwrap_or_else(|| aid.value.clone())
    };
    let paged = page_of(
        rows,
        &q,
        |(f, aid, eid, (info, _, role)), s| {
            contains(&eid.value, s)
                || contains(info.name.as_deref().unwrap_or(""), s)
                || contains(&f.info.name, s)
                || contains(&host(aid), s)
                || contains(role, s)
        },
        |a, b, col| {
            let o = match col {
                1 => a.3.0.name.cmp(&b.3.0.name),
                2 => a.0.info.name.cmp(&b.0.info.name),
                3 => host(a.1).cmp(&host(b.1)),
                4 => a.3.2.cmp(&b.3.2),
                _ => Ordering::Equal,
            };
            o.then_with(|| a.2.value.cmp(&b.2.value))
                .then_with(|| a.1.value.cmp(&b.1.value))
                .then_with(|| a.0.id.value.cmp(&b.0.id.value))
        },
    );
    paged.render(
        &TableSpec {
            id: "executors",
            caption: "Executors",
            columns: &EXECUTOR_COLS,
            empty: "No custom executors (command tasks run under the built-in executor).",
        },
        &q,
        &req.path,
        &req.params,
        |(f, aid, eid, (info, res, role))| {
            let path = format!(
                "/frameworks/{}/executors/{}/runs/latest",
                f.id.value, eid.value
            );
            vec![
                Html::text(&eid.value),
                Html::text(info.name.as_deref().unwrap_or("")),
                Html::link(&framework_href(&f.id.value), &f.info.name),
                Html::link(&agent_href(&aid.value), &host(aid)),
                Html::text(role),
                Html::text(&resources_text(res)),
                Html::link(&super::browse_href(&aid.value, &path), "Sandbox"),
            ]
        },
    )
}

/// `cpus: 1, mem: 128 MB, ...` for the four scalars present.
pub(crate) fn resources_text(r: &Resources) -> String {
    KINDS
        .iter()
        .filter(|k| r.scalar(k) > 0.0)
        .map(|k| format!("{k}: {}", amount(k, r.scalar(k))))
        .collect::<Vec<_>>()
        .join(", ")
}
