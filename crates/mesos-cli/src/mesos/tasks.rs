//! The commands about one task: `mesos task log` and `mesos task kill`.
//!
//! Both find the task in the master's `/tasks`, its agent's address in
//! `/slaves` (the agent's libprocess `pid`) and its executor in the
//! agent's own `/state`: the sandbox `directory` (read through the
//! agent's `/files/read`) and the `container` (killed through the agent's
//! v1 operator API).

use super::CliError;
use super::args::LogFile;
use super::client::{Client, Doc};
use super::views::{self, Sandbox, text};
use serde_json::{Value, json};
use std::io::Write;
use std::time::Duration;

/// How often `--follow` looks for new output (and for the task's end).
const FOLLOW_POLL: Duration = Duration::from_millis(500);
/// How long `kill` waits for the master to report the task ended.
const KILL_WAIT: Duration = Duration::from_secs(60);
const KILL_POLL: Duration = Duration::from_millis(200);
/// Bytes asked of `/files/read` at once (the agent caps reads at 64 KiB).
const CHUNK: u64 = 64 * 1024;
/// `/master/tasks` answers 100 tasks unless told otherwise.
const ALL: &str = "1000000000";

/// The master's `/tasks`: all of them, or those with id `task_id`.
pub async fn all_tasks(client: &Client, task_id: Option<&str>) -> Result<Doc, CliError> {
    let mut query = vec![("limit", ALL), ("order", "asc")];
    if let Some(id) = task_id {
        query.push(("task_id", id));
    }
    client.get("/master/tasks", &query).await
}

/// A task and where it runs.
struct Located {
    task: Value,
    task_id: String,
    framework_id: String,
    agent_id: String,
    /// `host:port` of the agent.
    agent: String,
    /// `None` until the agent has set the task's executor up.
    sandbox: Option<Sandbox>,
}

impl Located {
    fn sandbox(&self) -> Result<&Sandbox, CliError> {
        self.sandbox.as_ref().ok_or_else(|| {
            CliError::msg(format!(
                "Agent '{}' ({}) has no sandbox of task '{}' (not launched yet, or garbage \
                 collected)",
                self.agent_id, self.agent, self.task_id
            ))
        })
    }
}

async fn locate(
    client: &Client,
    task_id: &str,
    framework: Option<&str>,
) -> Result<Located, CliError> {
    let tasks = all_tasks(client, Some(task_id)).await?;
    let task = views::find_task(&tasks.json, task_id, framework)
        .map_err(CliError::Message)?
        .clone();
    let framework_id = text(&task, "framework_id");
    let agent_id = text(&task, "slave_id");
    if agent_id.is_empty() {
        return Err(CliError::msg(format!(
            "Task '{task_id}' has no agent (state {})",
            views::task_state(&task)
        )));
    }
    let slaves = client.get("/master/slaves", &[]).await?;
    let agent = views::agent_pid(&slaves.json, &agent_id)
        .and_then(|pid| views::agent_address(&pid))
        .ok_or_else(|| {
            CliError::msg(format!(
                "Agent '{agent_id}' of task '{task_id}' is not registered with the master \
                 (removed or unreachable): its sandbox cannot be reached"
            ))
        })?;
    let state = client.agent_get(&agent, "/slave(1)/state", &[]).await?;
    let sandbox = views::find_sandbox(&state.json, &framework_id, task_id);
    Ok(Located {
        task,
        task_id: task_id.to_string(),
        framework_id,
        agent_id,
        agent,
        sandbox,
    })
}

/// The task's current state in the master (`None`: the master no longer
/// lists it, e.g. its completed tasks were pruned).
async fn current_state(client: &Client, loc: &Located) -> Result<Option<String>, CliError> {
    let tasks = all_tasks(client, Some(&loc.task_id)).await?;
    Ok(
        views::find_task(&tasks.json, &loc.task_id, Some(&loc.framework_id))
            .ok()
            .map(views::task_state),
    )
}

/// `mesos task log`: the sandbox file from the start; with `follow`, then
/// whatever is appended, until the task has ended and all is printed.
pub async fn log(
    client: &Client,
    task_id: &str,
    framework: Option<&str>,
    file: LogFile,
    follow: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let mut loc = locate(client, task_id, framework).await?;
    // A task still being launched has no sandbox yet: --follow waits for it.
    while follow && loc.sandbox.is_none() && !views::is_terminal(&views::task_state(&loc.task)) {
        tokio::time::sleep(FOLLOW_POLL).await;
        loc = locate(client, task_id, Some(&loc.framework_id)).await?;
    }
    let path = format!(
        "{}/{}",
        loc.sandbox()?.directory.trim_end_matches('/'),
        file.name()
    );
    let mut offset: u64 = 0;
    let mut ended = views::is_terminal(&views::task_state(&loc.task));
    loop {
        // The end is noted before reading, so output the task wrote
        // before it ended is always printed.
        match file_size(client, &loc.agent, &path).await {
            Ok(size) => {
                if size < offset {
                    // Truncated (or replaced): start over, as `tail -f` does.
                    offset = 0;
                }
                while offset < size {
                    let want = CHUNK.min(size - offset);
                    let data = read_at(client, &loc.agent, &path, offset, want).await?;
                    if data.is_empty() {
                        break;
                    }
                    let (shown, advance) = take_chunk(&data, want);
                    out.write_all(shown.as_bytes())?;
                    offset += advance;
                }
                out.flush()?;
            }
            // Not created yet (the task is still being fetched/launched).
            Err(CliError::Http { status: 404, .. }) if follow && !ended => {}
            Err(CliError::Http { status: 404, .. }) => {
                return Err(CliError::msg(format!(
                    "Task '{task_id}' has no {} in its sandbox ({path})",
                    file.name()
                )));
            }
            Err(e) => return Err(e),
        }
        if !follow || ended {
            return Ok(());
        }
        tokio::time::sleep(FOLLOW_POLL).await;
        ended = current_state(client, &loc)
            .await?
            .is_none_or(|s| views::is_terminal(&s));
    }
}

/// What to print of a `/files/read` answer for `asked` bytes, and how far
/// the position moves.
///
/// The agent sends the bytes as text, decoded lossily, so the text's
/// length says nothing about the bytes once a `U+FFFD` is in it; the
/// bytes asked for all exist (the size was read first, logs only grow),
/// so the position moves by `asked`. One case is worth better: a chunk
/// that ends inside a multi-byte character (valid UTF-8 cut by the chunk
/// boundary) ends in one `U+FFFD` after clean text. Then the clean part is
/// printed and the character is read whole with the next chunk.
pub fn take_chunk(data: &str, asked: u64) -> (&str, u64) {
    const LOST: char = char::REPLACEMENT_CHARACTER;
    if let Some(head) = data.strip_suffix(LOST)
        && !head.is_empty()
        && !head.contains(LOST)
        && (head.len() as u64) < asked
    {
        return (head, head.len() as u64);
    }
    (data, asked)
}

/// The size of a sandbox file: `/files/read` with `offset=-1` (spec 6.8).
async fn file_size(client: &Client, agent: &str, path: &str) -> Result<u64, CliError> {
    let doc = client
        .agent_get(agent, "/files/read", &[("path", path), ("offset", "-1")])
        .await?;
    doc.json
        .get("offset")
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            CliError::msg(format!(
                "Agent {agent} answered /files/read without an offset"
            ))
        })
}

async fn read_at(
    client: &Client,
    agent: &str,
    path: &str,
    offset: u64,
    length: u64,
) -> Result<String, CliError> {
    let (offset, length) = (offset.to_string(), length.to_string());
    let doc = client
        .agent_get(
            agent,
            "/files/read",
            &[("path", path), ("offset", &offset), ("length", &length)],
        )
        .await?;
    Ok(text(&doc.json, "data"))
}

/// `mesos task kill`: kills the container of the task's executor through
/// the agent's v1 operator API (`KILL_CONTAINER`) and waits until the
/// master reports the task ended.
///
/// Why the agent: in Mesos only a framework can KILL a task through the
/// master, and Mesos's own CLI has no kill command. The other way would be
/// to SUBSCRIBE as the task's framework and send KILL, but a subscription
/// with a connected framework's id is a failover: the master tells the
/// real scheduler "Framework failed over" and drops it (and with a zero
/// failover timeout, tears the framework down when the CLI leaves). The
/// agent's `KILL_CONTAINER` (Mesos 1.5+) is the operator's call: it ends
/// just that container, the agent reports the task's end to its framework
/// through the usual status updates, and the scheduler stays connected.
/// A container can hold several tasks (custom and default executors), so
/// the kill is refused when others would die with it.
pub async fn kill(
    client: &Client,
    task_id: &str,
    framework: Option<&str>,
    json: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let loc = locate(client, task_id, framework).await?;
    let state = views::task_state(&loc.task);
    if views::is_terminal(&state) {
        return Err(CliError::msg(format!(
            "Task '{task_id}' has already ended ({state})"
        )));
    }
    let sandbox = loc.sandbox()?;
    if !sandbox.live || sandbox.container.is_empty() {
        return Err(CliError::msg(format!(
            "Agent '{}' reports no running container for task '{task_id}'",
            loc.agent_id
        )));
    }
    let others: Vec<&str> = sandbox
        .live_tasks
        .iter()
        .map(String::as_str)
        .filter(|t| *t != task_id)
        .collect();
    if !others.is_empty() {
        return Err(CliError::msg(format!(
            "Task '{task_id}' shares its executor's container with task(s) {}: killing the \
             container would end them too; only its framework can kill it alone",
            others.join(", ")
        )));
    }
    let call = json!({
        "type": "KILL_CONTAINER",
        "kill_container": {"container_id": {"value": sandbox.container}}
    });
    client
        .agent_operator(&loc.agent, &call)
        .await
        .map_err(|e| match e {
            CliError::Http {
                status: 404,
                message,
            } => CliError::msg(format!(
                "Agent '{}' ({}) does not serve the v1 operator API, so its tasks cannot be \
                 killed by an operator (KILL_CONTAINER): {message}",
                loc.agent_id, loc.agent
            )),
            CliError::Http { message, .. } => CliError::msg(format!(
                "Agent '{}' refused to kill the container of task '{task_id}': {message}",
                loc.agent_id
            )),
            other => other,
        })?;
    let deadline = tokio::time::Instant::now() + KILL_WAIT;
    let final_state = loop {
        match current_state(client, &loc).await? {
            Some(s) if views::is_terminal(&s) => break s,
            None => break "ended".to_string(),
            Some(s) if tokio::time::Instant::now() >= deadline => {
                return Err(CliError::msg(format!(
                    "Killed the container of task '{task_id}', but after {}s the master still \
                     reports it {s}",
                    KILL_WAIT.as_secs()
                )));
            }
            Some(_) => tokio::time::sleep(KILL_POLL).await,
        }
    };
    if json {
        let v = json!({
            "id": task_id,
            "framework_id": loc.framework_id,
            "slave_id": loc.agent_id,
            "state": final_state
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "Killed task '{task_id}' ({final_state})")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::take_chunk;

    #[test]
    fn chunks_advance_by_bytes_and_keep_cut_characters_whole() {
        assert_eq!(take_chunk("plain", 5), ("plain", 5));
        // "ab" then the first byte of "ü" (2 bytes): read "ü" next time.
        assert_eq!(take_chunk("ab\u{FFFD}", 3), ("ab", 2));
        // Binary data: printed as decoded, the position by the bytes asked.
        assert_eq!(take_chunk("\u{FFFD}a\u{FFFD}", 9), ("\u{FFFD}a\u{FFFD}", 9));
        // Only a cut character left (a writer mid-write at the end): progress.
        assert_eq!(take_chunk("\u{FFFD}", 1), ("\u{FFFD}", 1));
    }
}
