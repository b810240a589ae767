//! The home page (`/`): the cluster at a glance, as Mesos's UI shows it,
//! and every task in three tables.

use super::tasks::{all_tasks, three_tables};
use super::{KINDS, Outcome, Request, amount};
use crate::master::Master;
use mesos_daemon::build_info;
use webui::Html;
use webui::blocks::{counts, grid, join, matrix, panel};
use webui::format::{count, time};

pub(crate) fn page(m: &Master, site: &super::Site, req: &Request) -> Outcome {
    let metrics = crate::state_json::metrics(m, crate::master::now_secs());
    let metric = |k: &str| metrics.get(k).and_then(|v| v.as_f64()).unwrap_or(0.0);
    let n = |k: &str| count(metric(k).max(0.0) as u64);

    let leader = format!(
        "{}:{}",
        m.info.hostname.as_deref().unwrap_or("-"),
        m.info.port
    );
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
        ("Elected", time(m.elected_time)),
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
            ("Activated", n("master/slaves_active")),
            ("Deactivated", n("master/slaves_inactive")),
            ("Unreachable", n("master/slaves_unreachable")),
        ],
    );
    let tasks = counts(
        "Tasks",
        &[
            ("Staging", n("master/tasks_staging")),
            ("Starting", n("master/tasks_starting")),
            ("Running", n("master/tasks_running")),
            ("Unreachable", n("master/tasks_unreachable")),
            ("Killing", n("master/tasks_killing")),
            ("Finished", n("master/tasks_finished")),
            ("Killed", n("master/tasks_killed")),
            ("Failed", n("master/tasks_failed")),
            ("Lost", n("master/tasks_lost")),
        ],
    );
    let (total, used, offered) = m.cluster_resources();
    let row = |label: &'static str, f: &dyn Fn(&str) -> f64| {
        (label, KINDS.iter().map(|k| amount(k, f(k))).collect())
    };
    let resources = matrix(
        "Resources",
        &["", "CPUs", "GPUs", "Mem", "Disk"],
        &[
            row("Total", &|k| total.scalar(k)),
            row("Allocated", &|k| used.scalar(k)),
            row("Offered", &|k| offered.scalar(k)),
            row("Idle", &|k| {
                (total.scalar(k) - used.scalar(k) - offered.scalar(k)).max(0.0)
            }),
        ],
    );
    let side = join([panel("Cluster", &cluster), agents, tasks, resources]);
    let tables = three_tables(m, || all_tasks(m), true, true, req);
    Outcome::page("Home", None, grid(&side, &tables))
}
