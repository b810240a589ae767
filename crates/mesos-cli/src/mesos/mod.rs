//! The `mesos` operator CLI, modelled on Mesos 1.x's Python CLI
//! (`src/python/cli_new`: `mesos agent list`, `mesos framework list`,
//! `mesos task list`, ...) plus log, kill, maintenance and quota commands.
//!
//! Layout: [`args`] (clap and value parsing), [`table`] (terminal-sized
//! tables), [`views`] (what to show, read from the daemons' JSON) and
//! [`term`] are pure; [`client`] is the HTTP layer; this module and
//! [`tasks`] run the commands over them. [`run`] writes to any `Write`,
//! so tests call it directly; `src/bin/mesos.rs` only adds the process.

pub mod args;
pub mod client;
pub mod table;
pub mod tasks;
pub mod term;
pub mod views;

use args::{
    AgentCommand, ArgError, Cli, Command, FrameworkCommand, MaintenanceCommand, QuotaCommand,
    TaskCommand,
};
use client::Client;
use serde_json::{Value, json};
use std::io::{Read, Write};
use table::Table;

/// Any failure of a command: printed as one line on stderr, exit 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Arg(#[from] ArgError),
    /// A daemon answered with an error status.
    #[error("{message}")]
    Http { status: u16, message: String },
    #[error("{0}")]
    Message(String),
    /// Writing the output failed (e.g. a closed pipe).
    #[error("{0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    pub fn msg(m: impl Into<String>) -> CliError {
        CliError::Message(m.into())
    }
}

/// What a command takes from its environment, passed in so tests never
/// touch the process's.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `MESOS_MASTER`.
    pub master_env: Option<String>,
    /// Width to fit tables to; `None` prints whole values.
    pub width: Option<usize>,
    /// How long to wait for a `zk://` group to have a leader (`None`:
    /// [`LEADER_TIMEOUT`]).
    pub leader_timeout: Option<std::time::Duration>,
}

/// How long a command waits for a `zk://` group to have a leading master.
pub const LEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs one command line, writing its output to `out`.
pub async fn run(cli: Cli, ctx: &Context, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
    let location = args::master_location(cli.master.as_deref(), ctx.master_env.as_deref())?;
    let leader = location
        .leader_within(
            mesos_coord::zk::DEFAULT_SESSION_TIMEOUT,
            ctx.leader_timeout.unwrap_or(LEADER_TIMEOUT),
        )
        .await
        .map_err(|e| CliError::msg(e.to_string()))?;
    let client = Client::new(format!("http://{leader}"))?;
    let json = cli.json;
    match cli.command {
        Command::Agent(AgentCommand::List) => {
            let slaves = client.get("/master/slaves", &[]).await?;
            let table = views::agents_table(&slaves.json);
            let shown: Vec<&Value> = views::list(&slaves.json, "slaves").iter().collect();
            emit(out, ctx, json, &table, &shown, "The cluster has no agents.")
        }
        Command::Framework(FrameworkCommand::List { all }) => {
            let fws = client.get("/master/frameworks", &[]).await?;
            let shown = views::frameworks_shown(&fws.json, all);
            let table = views::frameworks_table(&shown);
            emit(out, ctx, json, &table, &shown, "There are no frameworks.")
        }
        Command::Task(TaskCommand::List { all }) => {
            let tasks = tasks::all_tasks(&client, None).await?;
            let shown = views::tasks_shown(&tasks.json, all);
            let table = views::tasks_table(&shown);
            let none = if all {
                "There are no tasks."
            } else {
                "There are no running tasks (--all shows completed ones)."
            };
            emit(out, ctx, json, &table, &shown, none)
        }
        Command::Task(TaskCommand::Log {
            task,
            follow,
            file,
            select,
        }) => {
            tasks::log(
                &client,
                &task,
                select.framework.as_deref(),
                file,
                follow,
                out,
            )
            .await
        }
        Command::Task(TaskCommand::Kill { task, select }) => {
            tasks::kill(&client, &task, select.framework.as_deref(), json, out).await
        }
        Command::Task(TaskCommand::Exec { .. }) => Err(CliError::msg(
            "'mesos task exec' is not supported: it needs the agent's nested container \
             sessions (LAUNCH_NESTED_CONTAINER_SESSION), which this Mesos does not serve yet",
        )),
        Command::Task(TaskCommand::Attach { .. }) => Err(CliError::msg(
            "'mesos task attach' is not supported: it needs the agent's \
             ATTACH_CONTAINER_INPUT/OUTPUT calls, which this Mesos does not serve yet",
        )),
        Command::Maintenance(m) => maintenance(&client, m, ctx, json, out).await,
        Command::Quota(q) => {
            quota(
                &client,
                q.command.unwrap_or(QuotaCommand::List),
                ctx,
                json,
                out,
            )
            .await
        }
    }
}

/// A listing: the table (or `empty` when it has no rows), or with
/// `--json` the master's objects behind the rows as one JSON array.
fn emit(
    out: &mut (dyn Write + Send),
    ctx: &Context,
    json: bool,
    table: &Table,
    shown: &[&Value],
    empty: &str,
) -> Result<(), CliError> {
    if json {
        let text = serde_json::to_string_pretty(shown).unwrap_or_default();
        writeln!(out, "{text}")?;
    } else if table.is_empty() {
        writeln!(out, "{empty}")?;
    } else {
        out.write_all(table.render(ctx.width).as_bytes())?;
    }
    Ok(())
}

/// A document shown as the master answered it (`--json`) or as a table.
fn show_doc(
    out: &mut (dyn Write + Send),
    ctx: &Context,
    json: bool,
    raw: &str,
    table: &Table,
    empty: &str,
) -> Result<(), CliError> {
    if json {
        writeln!(out, "{}", raw.trim_end())?;
        return Ok(());
    }
    emit(out, ctx, false, table, &[], empty)
}

/// A confirmation line, left out with `--json` (scripts go by the exit code).
fn confirm(out: &mut (dyn Write + Send), json: bool, line: &str) -> Result<(), CliError> {
    if !json {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

async fn maintenance(
    client: &Client,
    cmd: MaintenanceCommand,
    ctx: &Context,
    json: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    match cmd {
        MaintenanceCommand::Schedule { file: None } => {
            let doc = client.get("/master/maintenance/schedule", &[]).await?;
            let table = views::schedule_table(&doc.json);
            show_doc(
                out,
                ctx,
                json,
                &doc.raw,
                &table,
                "No maintenance is scheduled.",
            )
        }
        MaintenanceCommand::Schedule { file: Some(path) } => {
            let text = if path.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s).map_err(|e| {
                    CliError::msg(format!("Cannot read the schedule from stdin: {e}"))
                })?;
                s
            } else {
                std::fs::read_to_string(&path).map_err(|e| {
                    CliError::msg(format!(
                        "Cannot read the schedule from {}: {e}",
                        path.display()
                    ))
                })?
            };
            let schedule: Value = serde_json::from_str(&text)
                .map_err(|e| CliError::msg(format!("The schedule is not valid JSON: {e}")))?;
            if !schedule.is_object() {
                return Err(CliError::msg(
                    "The schedule must be a JSON object: {\"windows\": [...]}",
                ));
            }
            client
                .post("/master/maintenance/schedule", &schedule)
                .await?;
            let machines: usize = views::list(&schedule, "windows")
                .iter()
                .map(|w| views::list(w, "machine_ids").len())
                .sum();
            confirm(
                out,
                json,
                &format!("Updated the maintenance schedule ({machines} machines)."),
            )
        }
        MaintenanceCommand::Status => {
            let doc = client.get("/master/maintenance/status", &[]).await?;
            let table = views::status_table(&doc.json);
            show_doc(
                out,
                ctx,
                json,
                &doc.raw,
                &table,
                "No machine is draining or down.",
            )
        }
        MaintenanceCommand::Down { machines } => {
            let ids = machine_ids(&machines)?;
            client.post("/master/machine/down", &ids).await?;
            confirm(
                out,
                json,
                &format!("Machines down: {}", machines.join(", ")),
            )
        }
        MaintenanceCommand::Up { machines } => {
            let ids = machine_ids(&machines)?;
            client.post("/master/machine/up", &ids).await?;
            confirm(out, json, &format!("Machines up: {}", machines.join(", ")))
        }
    }
}

fn machine_ids(machines: &[String]) -> Result<Value, CliError> {
    let ids: Result<Vec<Value>, ArgError> = machines.iter().map(|m| args::machine_id(m)).collect();
    Ok(Value::Array(ids?))
}

async fn quota(
    client: &Client,
    cmd: QuotaCommand,
    ctx: &Context,
    json: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    match cmd {
        QuotaCommand::List => {
            let doc = client.get("/master/quota", &[]).await?;
            let table = views::quota_table(&doc.json);
            show_doc(out, ctx, json, &doc.raw, &table, "No role has quota.")
        }
        QuotaCommand::Set {
            role,
            guarantee,
            limit,
            force,
        } => {
            let guarantees = args::quota_map(&guarantee)?;
            let limits = args::quota_map(&limit)?;
            if guarantees.is_empty() && limits.is_empty() {
                return Err(CliError::msg(
                    "Give --guarantee and/or --limit (e.g. --guarantee cpus=1,mem=512); \
                     'mesos quota remove ROLE' removes quota",
                ));
            }
            let call = json!({
                "type": "UPDATE_QUOTA",
                "update_quota": {
                    "force": force,
                    "quota_configs": [{"role": role, "guarantees": guarantees, "limits": limits}]
                }
            });
            client.operator(&call).await?;
            confirm(out, json, &format!("Set the quota of role '{role}'."))
        }
        QuotaCommand::Remove { role } => {
            if role.is_empty() {
                return Err(CliError::msg("Name the role whose quota to remove"));
            }
            // REMOVE_QUOTA (deprecated in favour of UPDATE_QUOTA with an
            // empty config, still served) says so when the role has no
            // quota, which clearing it would not; and unlike `DELETE
            // /quota/<role>` it carries the role in the body, so
            // hierarchical roles (`eng/web`) work.
            let call = json!({"type": "REMOVE_QUOTA", "remove_quota": {"role": role}});
            client.operator(&call).await?;
            confirm(out, json, &format!("Removed the quota of role '{role}'."))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_output() {
        let mut t = Table::new(&["id"]);
        let mut out = Vec::new();
        emit(&mut out, &Context::default(), false, &t, &[], "none").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "none\n");
        t.push(vec!["x".into()]);
        let mut out = Vec::new();
        emit(
            &mut out,
            &Context::default(),
            true,
            &t,
            &[&json!({"id": "x"})],
            "none",
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v, json!([{"id": "x"}]));
    }
}
