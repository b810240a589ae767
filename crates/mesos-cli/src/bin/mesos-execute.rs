//! `mesos-execute --master=HOST:PORT --name=NAME --command=CMD`: runs one
//! task and prints its status updates as Apache Mesos's tool does. With
//! `--master=zk://...` the SDK follows the leading master: after a
//! failover the framework is subscribed again (same id) and the run goes on.

use mesos_cli::{ExecuteFlags, format_update, pick_offer};
use mesos_flags::FlagSources;
use mesos_types::scheduler::EventType;
use mesos_types::task_state::is_terminal;
use mesos_types::*;

#[tokio::main]
async fn main() {
    let sources = FlagSources {
        args: std::env::args().skip(1).collect(),
        ..Default::default()
    };
    let flags = match mesos_flags::load::<ExecuteFlags>("mesos-execute", &sources) {
        Ok(l) => l.flags,
        Err(mesos_flags::FlagError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = flags.validate() {
        eprintln!("{e}");
        std::process::exit(1);
    }
    std::process::exit(match run(flags).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e:#}");
            1
        }
    });
}

fn current_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "root".into())
}

/// A call that failed is not the end of the run: during a change of
/// leading master calls can fail, and the SDK re-subscribes by itself.
fn warn_on(what: &str, result: Result<(), mesos_scheduler::SchedulerError>) {
    if let Err(e) = result {
        eprintln!("Failed to {what}: {e}");
    }
}

async fn run(flags: ExecuteFlags) -> anyhow::Result<i32> {
    let need = Resources::parse(&flags.resources, "*").map_err(anyhow::Error::msg)?;
    let mut sub = mesos_scheduler::subscribe_with(
        &flags.master,
        flags.framework_info(current_user()),
        flags.content_type(),
    )
    .await?;
    println!("Subscribed with ID {}", sub.caller.framework_id);
    let caller = sub.caller.clone();
    let mut launched: Option<AgentID> = None;
    let mut kill_sent = false;
    let mut exit_code = 1;
    while let Some(event) = sub.events.recv().await {
        match event.kind {
            // Only after a failover to another master (the first one is
            // the subscription itself).
            EventType::SUBSCRIBED => {
                println!("Subscribed with ID {}", caller.framework_id);
                if launched.is_some() {
                    // The new master does not know we stopped wanting offers.
                    let _ = caller.suppress().await;
                }
            }
            EventType::OFFERS => {
                let offers = event.offers.map(|o| o.offers).unwrap_or_default();
                let mut decline: Vec<OfferID> = offers.iter().map(|o| o.id.clone()).collect();
                if launched.is_none()
                    && let Some(o) = pick_offer(&offers, &need, &flags.role)
                {
                    decline.retain(|id| id != &o.id);
                    // A call can fail while the leading master changes;
                    // the next offer (from the new leader) is tried then.
                    match caller
                        .launch(
                            vec![o.id.clone()],
                            vec![flags.task(o.agent_id.clone())],
                            None,
                        )
                        .await
                    {
                        Ok(()) => {
                            println!("Submitted task '{}' to agent '{}'", flags.name, o.agent_id);
                            launched = Some(o.agent_id.clone());
                            warn_on("suppress offers", caller.suppress().await);
                        }
                        Err(e) => eprintln!("Failed to launch task '{}': {e}", flags.name),
                    }
                }
                if !decline.is_empty() {
                    warn_on("decline offers", caller.decline(decline, None).await);
                }
            }
            EventType::UPDATE => {
                let Some(status) = event.update.map(|u| u.status) else {
                    continue;
                };
                println!("{}", format_update(&status));
                // Unacknowledged, the update is sent again.
                warn_on("acknowledge the update", caller.acknowledge(&status).await);
                if status.state == TaskState::TASK_RUNNING
                    && !kill_sent
                    && let (Some(after), Some(agent)) = (flags.kill_after, launched.clone())
                {
                    kill_sent = true;
                    let c = caller.clone();
                    let tid = status.task_id.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after.get()).await;
                        if c.kill(tid.clone(), Some(agent.clone())).await.is_ok() {
                            println!("Asked to kill task '{tid}' on agent '{agent}'");
                        }
                    });
                }
                if is_terminal(status.state) {
                    exit_code = if status.state == TaskState::TASK_FINISHED {
                        0
                    } else {
                        1
                    };
                    break;
                }
            }
            EventType::ERROR => {
                println!(
                    "Received an ERROR event: {}",
                    event.error.map(|e| e.message).unwrap_or_default()
                );
                return Ok(1);
            }
            _ => {}
        }
    }
    let _ = caller.teardown().await;
    Ok(exit_code)
}
