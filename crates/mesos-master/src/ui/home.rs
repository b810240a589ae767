//! The home page (`/`): the cluster at a glance, as Mesos's UI shows it,
//! and every task in three tables.

use super::tasks::{all_tasks, three_tables};
use super::{KINDS, Outcome, Request, amount};
use crate::master::Master;
use mesos_daemon::build_info;
use mesos_types::TaskState;
use webui::Html;
use webui::blocks::{counts, grid, join, matrix, panel};
use webui::format::{count, time};

pub(crate) fn page(m: &Master, site: &super::Site, req: &Request) -> Outcome {
    let (by_state, _) = crate::state_json::task_counts(m);
    let tasks_in = |s: TaskState| {
        count(
            by_state
                .iter()
                .find(|(x, _)| *x == s)
                .map_or(0, |(_, n)| *n),
        )
    };
    let connected = m.agents.values().filter(|a| a.connected()).count() as u64;

    let leader = match &m.leader {
        Some(l) => format!("{}:{}", l.hostname.as_deref().unwrap_or("-"), l.port),
        None => "(none elected)".to_string(),
    };
    let mut cluster = vec![
        (
            "Cluster",
            Html::text(site.cluster.as_deref().unwrap_or("(Unnamed)")),
        ),
        ("Leader", Html::text(&leader)),
        ("Version", Html::text(mesos_types::MESOS_VERSION)),
        (
            "Built",
            Html::trusted(format!(
                "{} by {}",
                time(build_info::BUILD_TIME),
                webui::escape(build_info::BUILD_USER)
            )),
        ),
        ("Started", time(m.start_time)),
        (
            "Elected",
            m.elected_time
                .map(time)
                .unwrap_or_else(|| Html::text("(not the leader)")),
        ),
    ];
    if site.has_log {
        cluster.push((
            "Master log",
            Html::trusted(format!(
                "<a href=\"/ui/log\">View</a> · <a href=\"/files/download?path={}\">Download</a>",
                webui::url_encode(crate::http::MASTER_LOG_PATH)
            )),
        ));
    }
    let agents = counts(
        "Agents",
        &[
            ("Activated", count(connected)),
            ("Deactivated", count(m.agents.len() as u64 - connected)),
            ("Unreachable", count(m.unreachable_agents.len() as u64)),
        ],
    );
    let tasks = counts(
        "Tasks",
        &[
            ("Staging", tasks_in(TaskState::TASK_STAGING)),
            ("Starting", tasks_in(TaskState::TASK_STARTING)),
            ("Running", tasks_in(TaskState::TASK_RUNNING)),
            ("Unreachable", tasks_in(TaskState::TASK_UNREACHABLE)),
            ("Killing", tasks_in(TaskState::TASK_KILLING)),
            ("Finished", tasks_in(TaskState::TASK_FINISHED)),
            ("Killed", tasks_in(TaskState::TASK_KILLED)),
            ("Failed", tasks_in(TaskState::TASK_FAILED)),
            ("Lost", tasks_in(TaskState::TASK_LOST)),
        ],
    );
    let c = super::cluster_scalars(m);
    let idle: [f64; 4] =
        std::array::from_fn(|i| (c.total[i] - c.allocated[i] - c.offered[i]).max(0.0));
    let row = |label: &'static str, v: &[f64; 4]| {
        (
            label,
            KINDS.iter().zip(v).map(|(k, x)| amount(k, *x)).collect(),
        )
    };
    let resources = matrix(
        "Resources",
        &["", "CPUs", "GPUs", "Mem", "Disk"],
        &[
            row("Total", &c.total),
            row("Allocated", &c.allocated),
            row("Offered", &c.offered),
            row("Idle", &idle),
        ],
    );
    let side = join([panel("Cluster", &cluster), agents, tasks, resources]);
    let tables = three_tables(m, all_tasks(m), true, true, req);
    Outcome::page("Home", None, grid(&side, &tables))
}
