//! Task tables (shared by the home, framework and agent pages) and the
//! task page.

use super::{
    Outcome, Request, agent_href, browse_href, framework_href, id_link, state_html, task_href,
};
use crate::master::{Master, TaskEntry};
use mesos_types::TaskState;
use mesos_types::task_state::is_terminal;
use std::cmp::Ordering;
use webui::blocks::{heading, join, matrix, panel};
use webui::format::{time, utc};
use webui::table::{Column, Pager, TableQuery, TableSpec, cmp_f64, contains};
use webui::{Html, escape};

/// Which tasks a table lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskList {
    /// Live tasks but unreachable ones.
    Active,
    Unreachable,
    Completed,
}

/// The columns a task table can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Framework,
    Id,
    Name,
    Role,
    State,
    Health,
    Started,
    Stopped,
    Host,
    AgentId,
    Sandbox,
}

impl Col {
    fn column(self) -> Column {
        match self {
            Col::Framework => Column::sortable("Framework ID"),
            Col::Id => Column::sortable("Task ID"),
            Col::Name => Column::sortable("Task Name"),
            Col::Role => Column::sortable("Role"),
            Col::State => Column::sortable("State"),
            Col::Health => Column::sortable("Health"),
            Col::Started => Column::sortable("Started"),
            Col::Stopped => Column::sortable("Stopped"),
            Col::Host => Column::sortable("Host"),
            Col::AgentId => Column::sortable("Agent ID"),
            Col::Sandbox => Column::plain("Sandbox"),
        }
    }
}

/// A task, and the book for what its row shows from elsewhere (looked
/// up only for the rows shown, or when filtering or ordering needs it).
pub(crate) struct Row<'a> {
    pub task: &'a TaskEntry,
    pub m: &'a Master,
}

impl Row<'_> {
    /// The hostname of the task's agent ("" if it is gone).
    fn host(&self) -> &str {
        self.m
            .agents
            .get(&self.task.agent_id)
            .map(|a| a.info.hostname.as_str())
            .unwrap_or("")
    }
}

/// When the task started: its first status that is not an end (a task
/// that went straight to an end never started).
pub(crate) fn started(t: &TaskEntry) -> f64 {
    (t.statuses.iter())
        .find(|s| !is_terminal(s.state))
        .and_then(|s| s.timestamp)
        .unwrap_or(0.0)
}

pub(crate) fn stopped(t: &TaskEntry) -> f64 {
    if is_terminal(t.state) {
        t.statuses.last().and_then(|s| s.timestamp).unwrap_or(0.0)
    } else {
        0.0
    }
}

pub(crate) fn healthy(t: &TaskEntry) -> Option<bool> {
    t.statuses.last().and_then(|s| s.healthy)
}

pub(crate) fn state_name(s: TaskState) -> &'static str {
    s.as_str()
}

/// The sandbox of a task: its executor's latest run, by the agent's
/// short virtual path (command tasks run under an executor named after
/// the task).
pub(crate) fn sandbox_path(t: &TaskEntry) -> String {
    let eid = t
        .info
        .executor
        .as_ref()
        .map(|e| e.executor_id.value.as_str())
        .unwrap_or(t.info.task_id.value.as_str());
    format!(
        "/frameworks/{}/executors/{eid}/runs/latest",
        t.framework_id.value
    )
}

/// Every task of the book: each framework's live and completed tasks and
/// the completed frameworks' tasks, with whether each is completed.
pub(crate) fn all_tasks(m: &Master) -> impl Iterator<Item = (&TaskEntry, bool)> {
    m.frameworks
        .values()
        .flat_map(|f| {
            f.tasks
                .values()
                .map(|t| (t, false))
                .chain(f.completed_tasks.iter().map(|t| (t, true)))
        })
        .chain(m.completed_frameworks.iter().flat_map(|f| {
            f.tasks
                .values()
                .map(|t| (t, true))
                .chain(f.completed_tasks.iter().map(|t| (t, true)))
        }))
}

/// What a task table shows besides its tasks.
pub(crate) struct TaskTable<'a> {
    pub id: &'a str,
    pub caption: &'a str,
    pub list: TaskList,
    /// Whether to show the framework column (not on a framework's page).
    pub framework: bool,
    /// Whether to show the host column (not on an agent's page).
    pub host: bool,
}

fn columns(spec: &TaskTable) -> Vec<Col> {
    let mut cols = Vec::new();
    if spec.framework {
        cols.push(Col::Framework);
    }
    cols.extend([Col::Id, Col::Name, Col::Role]);
    match spec.list {
        TaskList::Active => cols.extend([Col::State, Col::Health, Col::Started]),
        TaskList::Unreachable => cols.push(Col::Started),
        TaskList::Completed => cols.extend([Col::State, Col::Started, Col::Stopped]),
    }
    match spec.list {
        TaskList::Unreachable => cols.push(Col::AgentId),
        _ => {
            if spec.host {
                cols.push(Col::Host);
            }
            cols.push(Col::Sandbox);
        }
    }
    cols
}

fn cmp(a: &Row, b: &Row, col: Col) -> Ordering {
    let (x, y) = (a.task, b.task);
    let primary = match col {
        Col::Framework => x.framework_id.value.cmp(&y.framework_id.value),
        Col::Id | Col::Sandbox => Ordering::Equal,
        Col::Name => x.info.name.cmp(&y.info.name),
        Col::Role => x.role.cmp(&y.role),
        Col::State => (x.state as i32).cmp(&(y.state as i32)),
        Col::Health => healthy(x).cmp(&healthy(y)),
        Col::Started => cmp_f64(started(x), started(y)),
        Col::Stopped => cmp_f64(stopped(x), stopped(y)),
        Col::Host => a.host().cmp(b.host()),
        Col::AgentId => x.agent_id.value.cmp(&y.agent_id.value),
    };
    primary
        .then_with(|| x.info.task_id.value.cmp(&y.info.task_id.value))
        .then_with(|| x.framework_id.value.cmp(&y.framework_id.value))
}

fn keep(r: &Row, f: &str) -> bool {
    let t = r.task;
    contains(&t.info.task_id.value, f)
        || contains(&t.info.name, f)
        || contains(&t.framework_id.value, f)
        || contains(&t.role, f)
        || contains(state_name(t.state), f)
        // Last: it looks the agent up.
        || contains(r.host(), f)
}

fn cell(r: &Row, col: Col) -> Html {
    let t = r.task;
    let (fid, tid, aid) = (
        t.framework_id.value.as_str(),
        t.info.task_id.value.as_str(),
        t.agent_id.value.as_str(),
    );
    match col {
        Col::Framework => id_link(&framework_href(fid), fid),
        Col::Id => id_link(&task_href(fid, tid), tid),
        Col::Name => Html::text(&t.info.name),
        Col::Role => Html::text(&t.role),
        Col::State => state_html(state_name(t.state)),
        Col::Health => health_html(healthy(t)),
        Col::Started => time(started(t)),
        Col::Stopped => time(stopped(t)),
        Col::Host => match r.host() {
            "" => Html::text(aid),
            host => Html::link(&agent_href(aid), host),
        },
        Col::AgentId => id_link(&agent_href(aid), aid),
        Col::Sandbox => Html::link(&browse_href(aid, &sandbox_path(t)), "Sandbox"),
    }
}

pub(crate) fn health_html(h: Option<bool>) -> Html {
    match h {
        None => Html::text("-"),
        Some(true) => Html::span("state-ok", "Healthy"),
        Some(false) => Html::span("state-bad", "Unhealthy"),
    }
}

/// A task table being filled: its spec, columns and what the URL asks.
struct Filling<'s> {
    spec: &'s TaskTable<'s>,
    cols: Vec<Col>,
    columns: Vec<Column>,
    query: TableQuery,
}

impl<'s> Filling<'s> {
    fn new(spec: &'s TaskTable<'s>, req: &Request) -> Filling<'s> {
        let cols = columns(spec);
        let columns: Vec<Column> = cols.iter().map(|c| c.column()).collect();
        let default_sort = match spec.list {
            TaskList::Completed => Col::Stopped,
            _ => Col::Started,
        };
        let default = (
            cols.iter().position(|c| *c == default_sort).unwrap_or(0),
            true,
        );
        let query = TableQuery::parse(spec.id, &req.params, &columns, default);
        Filling {
            spec,
            cols,
            columns,
            query,
        }
    }

    fn sort_col(&self) -> Col {
        self.cols.get(self.query.sort).copied().unwrap_or(Col::Id)
    }

    fn render(&self, paged: webui::table::Paged<Row>, req: &Request) -> Html {
        let spec = TableSpec {
            id: self.spec.id,
            caption: self.spec.caption,
            columns: &self.columns,
            empty: "No tasks.",
        };
        paged.render(&spec, &self.query, &req.path, &req.params, |r| {
            self.cols.iter().map(|c| cell(r, *c)).collect()
        })
    }
}

/// The active, unreachable and completed tables over `tasks` (pairs of
/// task and whether it is completed), filled in one pass.
pub(crate) fn three_tables<'a>(
    m: &'a Master,
    tasks: impl Iterator<Item = (&'a TaskEntry, bool)>,
    framework: bool,
    host: bool,
    req: &Request,
) -> Html {
    let specs = [
        ("active", "Active Tasks", TaskList::Active),
        ("unreachable", "Unreachable Tasks", TaskList::Unreachable),
        ("completed", "Completed Tasks", TaskList::Completed),
    ]
    .map(|(id, caption, list)| TaskTable {
        id,
        caption,
        list,
        framework,
        host,
    });
    let fillings = [0, 1, 2].map(|i| Filling::new(&specs[i], req));
    let mut pagers = [0, 1, 2].map(|i| {
        let col = fillings[i].sort_col();
        Pager::new(&fillings[i].query, keep, move |a: &Row, b: &Row, _| {
            cmp(a, b, col)
        })
    });
    for (task, completed) in tasks {
        let i = match (completed, task.state) {
            (true, _) => 2,
            (false, TaskState::TASK_UNREACHABLE) => 1,
            (false, _) => 0,
        };
        pagers[i].push(Row { task, m });
    }
    let [a, u, c] = pagers.map(|p| p.finish());
    join([
        fillings[0].render(a, req),
        fillings[1].render(u, req),
        fillings[2].render(c, req),
    ])
}

/// Finds a task by framework and id: live, or among the completed ones.
fn find<'a>(m: &'a Master, fid: &str, tid: &str) -> Option<&'a TaskEntry> {
    let (fid, tid) = (
        mesos_types::FrameworkID::new(fid),
        mesos_types::TaskID::new(tid),
    );
    if let Some(t) = m.frameworks.get(&fid).and_then(|f| f.tasks.get(&tid)) {
        return Some(t);
    }
    m.frameworks
        .get(&fid)
        .into_iter()
        .chain(m.completed_frameworks.iter().filter(|f| f.id == fid))
        .flat_map(|f| f.completed_tasks.iter().chain(f.tasks.values()))
        .find(|t| t.info.task_id == tid)
}

/// `/ui/tasks/<framework id>/<task id>`.
pub(crate) fn detail(m: &Master, fid: &str, tid: &str) -> Outcome {
    let Some(t) = find(m, fid, tid) else {
        return Outcome::NotFound(format!("No task '{tid}' of framework '{fid}' is known."));
    };
    let aid = t.agent_id.value.as_str();
    let host = m.agents.get(&t.agent_id).map(|a| a.info.hostname.as_str());
    let fname = m
        .frameworks
        .get(&t.framework_id)
        .map(|f| f.info.name.as_str())
        .unwrap_or(fid);
    let executor = t
        .info
        .executor
        .as_ref()
        .map(|e| e.executor_id.value.clone())
        .unwrap_or_else(|| format!("{tid} (command executor)"));
    let command = t
        .info
        .command
        .as_ref()
        .and_then(|c| c.value.clone())
        .unwrap_or_else(|| "-".into());
    let last = t.statuses.last();
    let info = panel(
        "Task",
        &[
            ("ID", Html::text(tid)),
            ("Name", Html::text(&t.info.name)),
            ("State", state_html(state_name(t.state))),
            ("Health", health_html(healthy(t))),
            ("Framework", Html::link(&framework_href(fid), fname)),
            (
                "Agent",
                Html::link(&super::agent_href(aid), host.unwrap_or(aid)),
            ),
            ("Role", Html::text(&t.role)),
            ("User", Html::text(t.user.as_deref().unwrap_or("-"))),
            ("Executor", Html::text(&executor)),
            (
                "Command",
                Html::trusted(format!("<code>{}</code>", escape(&command))),
            ),
            ("Started", time(started(t))),
            ("Stopped", time(stopped(t))),
            (
                "Last message",
                Html::text(last.and_then(|s| s.message.as_deref()).unwrap_or("-")),
            ),
            (
                "Sandbox",
                Html::link(&browse_href(aid, &sandbox_path(t)), "Browse the sandbox"),
            ),
        ],
    );
    let sum = |k: &str| -> f64 {
        (t.info.resources.iter())
            .filter(|r| r.name == k)
            .filter_map(|r| r.scalar.as_ref())
            .map(|s| s.value)
            .sum()
    };
    let resources = matrix(
        "Resources",
        &["", "CPUs", "GPUs", "Mem", "Disk"],
        &[(
            "Allocated",
            super::KINDS
                .iter()
                .map(|k| super::amount(k, sum(k)))
                .collect(),
        )],
    );
    let statuses = status_table(t);
    let mut extra = Vec::new();
    for (title, v) in [
        ("Container", t.info.container.as_ref()),
        ("Health check", t.info.health_check.as_ref()),
        ("Labels", t.info.labels.as_ref()),
        ("Discovery", t.info.discovery.as_ref()),
    ] {
        if let Some(v) = v {
            extra.push(json_block(title, v));
        }
    }
    if let Some(cs) = last.and_then(|s| s.container_status.as_ref())
        && let Ok(v) = serde_json::to_value(cs)
    {
        extra.push(json_block("Container status (network)", &v));
    }
    let body = join([
        heading(
            &t.info.name,
            &[
                ("Frameworks", Some("/ui/frameworks".into())),
                (fname, Some(framework_href(fid))),
            ],
        ),
        webui::blocks::grid(&join([info, resources]), &join([statuses, join(extra)])),
    ]);
    Outcome::page(format!("Task {tid}"), Some("Frameworks"), body)
}

fn json_block(title: &str, v: &serde_json::Value) -> Html {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    Html::trusted(format!(
        "<section class=\"ui-panel\"><h3>{}</h3><pre class=\"ui-file\">{}</pre></section>",
        escape(title),
        escape(&text)
    ))
}

/// Every status of a task, newest first (not paginated: a task keeps few).
fn status_table(t: &TaskEntry) -> Html {
    let mut rows = String::new();
    for s in t.statuses.iter().rev() {
        let cells = [
            state_html(state_name(s.state)),
            Html::text(&s.timestamp.map(utc).unwrap_or_else(|| "-".into())),
            Html::text(&s.source.map(|x| format!("{x:?}")).unwrap_or_default()),
            Html::text(&s.reason.map(|x| format!("{x:?}")).unwrap_or_default()),
            Html::text(s.message.as_deref().unwrap_or("")),
            health_html(s.healthy),
        ];
        rows.push_str("<tr>");
        for c in cells {
            rows.push_str(&format!("<td>{c}</td>"));
        }
        rows.push_str("</tr>");
    }
    Html::trusted(format!(
        "<section class=\"ui-table\"><div class=\"ui-table-head\"><h2>Statuses <span class=\"ui-count\">{}</span></h2></div>\
         <div class=\"ui-scroll\"><table><thead><tr><th>State</th><th>Time (UTC)</th><th>Source</th><th>Reason</th><th>Message</th><th>Health</th></tr></thead>\
         <tbody>{rows}</tbody></table></div></section>",
        t.statuses.len()
    ))
}
