//! `mesos-bench`: end-to-end benchmarks that print one line per figure,
//! `name value unit (reference value unit, ratio)`, and optionally JSON.
//!
//! Scenario `launch` (P6 in shared/BENCHMARKS.md): N real `/bin/true` tasks
//! through an in-process master and agent, each in its own `mesos-executor`
//! process, next to the raw spawn+reap rate of `/bin/true` measured in the
//! same run.

use clap::Parser;
use mesos_types::scheduler::EventType;
use mesos_types::task_state::is_terminal;
use mesos_types::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(name = "mesos-bench", rename_all = "snake_case")]
struct Args {
    /// Scenario to run.
    #[arg(long, default_value = "launch")]
    scenario: String,
    /// Number of tasks.
    #[arg(long, default_value_t = 2000)]
    tasks: usize,
    /// Tasks in flight at once (launched, not yet finished).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Write the figures as JSON here.
    #[arg(long)]
    json: Option<String>,
}

struct Figure {
    name: &'static str,
    value: f64,
    unit: &'static str,
    reference: Option<(f64, &'static str)>,
}

impl Figure {
    fn line(&self) -> String {
        match self.reference {
            Some((r, u)) => format!(
                "{} {:.1} {} (reference {:.1} {}, ratio {:.2})",
                self.name,
                self.value,
                self.unit,
                r,
                u,
                self.value / r
            ),
            None => format!("{} {:.1} {}", self.name, self.value, self.unit),
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Raw reference: spawn and reap `/bin/true` one after another.
fn raw_spawn_rate(n: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        let _ = std::process::Command::new("/bin/true").status();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn launch_scenario(args: &Args) -> anyhow::Result<Vec<Figure>> {
    let raw = raw_spawn_rate(args.tasks.min(2000));
    let dir = tempfile::tempdir()?;
    let mflags = <mesos_master::MasterFlags as Parser>::try_parse_from([
        "mesos-master",
        "--port=0",
        "--registry=in_memory",
        "--allocation_interval=100ms",
    ])?;
    let master = mesos_master::start(mflags, Default::default()).await?;
    let cpus = (args.concurrency as f64 * 0.01).max(0.01);
    let aflags = <mesos_agent::AgentFlags as Parser>::try_parse_from([
        "mesos-agent".to_string(),
        format!("--master={}", master.addr),
        "--port=0".into(),
        format!("--work_dir={}", dir.path().display()),
        format!(
            "--resources=cpus:{cpus};mem:{};disk:1000;ports:[31000-32000]",
            args.concurrency * 32
        ),
    ])?;
    let agent = mesos_agent::start(aflags, Default::default()).await?;
    agent.registered().await;

    let info = FrameworkInfo {
        user: "root".into(),
        name: "mesos-bench launch".into(),
        ..Default::default()
    };
    let mut sub = mesos_scheduler::subscribe(&master.endpoint(), info).await?;
    let caller = sub.caller.clone();
    let mut launched_at: HashMap<String, Instant> = HashMap::new();
    let mut to_running: Vec<f64> = Vec::new();
    let mut next = 0usize;
    let mut done = 0usize;
    let mut failed = 0usize;
    let start = Instant::now();
    let no_filter = Some(Filters {
        refuse_seconds: 0.0,
    });
    while done < args.tasks {
        let Some(event) = tokio::time::timeout(Duration::from_secs(60), sub.events.recv()).await?
        else {
            anyhow::bail!("event stream ended")
        };
        match event.kind {
            EventType::OFFERS => {
                for offer in event.offers.map(|o| o.offers).unwrap_or_default() {
                    let avail = Resources::from_wire(offer.resources.clone());
                    let mut fit = (avail.scalar("cpus") / 0.01).floor() as usize;
                    fit = fit
                        .min((avail.scalar("mem") / 32.0).floor() as usize)
                        .min(args.tasks - next);
                    let mut tasks = Vec::with_capacity(fit);
                    for _ in 0..fit {
                        let id = format!("t{next}");
                        next += 1;
                        tasks.push(TaskInfo {
                            name: id.clone(),
                            task_id: TaskID::new(id.clone()),
                            agent_id: offer.agent_id.clone(),
                            resources: Resources::parse("cpus:0.01;mem:32", "*")
                                .unwrap_or_default()
                                .to_wire(false),
                            command: Some(CommandInfo {
                                value: Some("/bin/true".into()),
                                shell: false,
                                arguments: vec!["true".into()],
                                ..Default::default()
                            }),
                            ..Default::default()
                        });
                        launched_at.insert(id, Instant::now());
                    }
                    if tasks.is_empty() {
                        caller.decline(vec![offer.id], no_filter).await?;
                    } else {
                        caller.launch(vec![offer.id], tasks, no_filter).await?;
                    }
                }
            }
            EventType::UPDATE => {
                let Some(s) = event.update.map(|u| u.status) else {
                    continue;
                };
                if s.state == TaskState::TASK_RUNNING
                    && let Some(t) = launched_at.get(&s.task_id.value)
                {
                    to_running.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                caller.acknowledge(&s).await?;
                if is_terminal(s.state) {
                    done += 1;
                    if s.state != TaskState::TASK_FINISHED {
                        failed += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let _ = caller.teardown().await;
    agent.shutdown().await;
    master.stop().await;
    to_running.sort_by(f64::total_cmp);
    if failed > 0 {
        eprintln!(
            "warning: {failed} of {} tasks did not finish cleanly",
            args.tasks
        );
    }
    Ok(vec![
        Figure {
            name: "p6_launch_rate",
            value: args.tasks as f64 / elapsed,
            unit: "tasks/s",
            reference: Some((raw, "spawns/s")),
        },
        Figure {
            name: "p6_launch_to_running_p50",
            value: percentile(&to_running, 0.5),
            unit: "ms",
            reference: None,
        },
        Figure {
            name: "p6_launch_to_running_p99",
            value: percentile(&to_running, 0.99),
            unit: "ms",
            reference: None,
        },
    ])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let figures = match args.scenario.as_str() {
        "launch" => launch_scenario(&args).await?,
        other => anyhow::bail!("unknown scenario '{other}' (available: launch)"),
    };
    for f in &figures {
        println!("{}", f.line());
    }
    if let Some(path) = &args.json {
        let v: Vec<serde_json::Value> = figures
            .iter()
            .map(|f| serde_json::json!({"name": f.name, "value": f.value, "unit": f.unit, "reference": f.reference.map(|r| r.0), "reference_unit": f.reference.map(|r| r.1)}))
            .collect();
        std::fs::write(path, serde_json::to_string_pretty(&v)?)?;
    }
    Ok(())
}
