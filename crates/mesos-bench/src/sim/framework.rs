//! Simulated frameworks on the real scheduler API (the Rust SDK,
//! [`mesos_scheduler`]):
//!
//! * [`run_churn`] — accepts offers with small no-op tasks up to an
//!   in-flight cap, acknowledges every update, declines what it cannot use;
//!   counts launches, RUNNING acknowledgements and offer->RUNNING latency.
//! * [`Probe`] — measures allocation latency: it keeps one agent's offer,
//!   hands it back (ACCEPT without operations, no filter, which asks for an
//!   allocation) and times the next offer of that agent.
//! * [`run_decliner`] — declines every offer with a filter.

use mesos_scheduler::{Caller, SchedulerError, Subscription};
use mesos_types::scheduler::{Call, CallType, Event, EventType};
use mesos_types::task_state::is_terminal;
use mesos_types::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tracing::warn;

/// A framework that is not checkpointed and has no failover timeout.
pub fn framework_info(name: &str) -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: name.into(),
        ..Default::default()
    }
}

/// What a churning framework launches.
#[derive(Debug, Clone)]
pub struct ChurnConfig {
    pub name: String,
    /// Resources of each task, e.g. `cpus:0.01;mem:32`.
    pub task_resources: String,
    /// Most tasks launched on one offer.
    pub tasks_per_offer: usize,
    /// Most tasks launched and not yet terminal.
    pub max_inflight: usize,
    /// Stop launching after this many tasks (`None`: until stopped).
    pub limit: Option<u64>,
    /// Filter on declined offers, seconds.
    pub decline_secs: f64,
    /// Calls in flight at once (ACCEPT, DECLINE, ACKNOWLEDGE).
    pub call_concurrency: usize,
}

impl Default for ChurnConfig {
    fn default() -> Self {
        ChurnConfig {
            name: "churn".into(),
            task_resources: "cpus:0.01;mem:32".into(),
            tasks_per_offer: 10,
            max_inflight: 1000,
            limit: None,
            decline_secs: 5.0,
            call_concurrency: 64,
        }
    }
}

/// Counters of a churning framework (read while it runs).
#[derive(Debug, Default)]
pub struct ChurnStats {
    pub offers: AtomicU64,
    pub declined: AtomicU64,
    pub launched: AtomicU64,
    /// TASK_RUNNING updates whose acknowledgement the master accepted.
    pub running_acked: AtomicU64,
    pub finished: AtomicU64,
    /// Terminal states other than TASK_FINISHED.
    pub failed: AtomicU64,
    pub calls_failed: AtomicU64,
    /// Overrides `ChurnConfig::max_inflight` while non-zero (throttling a
    /// running framework).
    pub cap: AtomicU64,
    /// Offer -> RUNNING latencies (ms), recorded while `measuring` is set.
    pub latencies_ms: Mutex<Vec<f64>>,
    pub measuring: AtomicBool,
}

impl ChurnStats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    /// Takes the recorded latencies.
    pub fn take_latencies(&self) -> Vec<f64> {
        std::mem::take(&mut *self.latencies_ms.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Sends `call` on a spawned task once a permit is free; failures are counted.
async fn spawn_call<F>(sem: &Arc<Semaphore>, stats: &Arc<ChurnStats>, call: F)
where
    F: Future<Output = Result<(), SchedulerError>> + Send + 'static,
{
    let Ok(permit) = sem.clone().acquire_owned().await else {
        return;
    };
    let stats = stats.clone();
    tokio::spawn(async move {
        if let Err(e) = call.await {
            stats.calls_failed.fetch_add(1, Ordering::Relaxed);
            warn!("framework call failed: {e}");
        }
        drop(permit);
    });
}

/// How many tasks of `each` fit into `available`.
fn fits(available: &Resources, each: &Resources) -> usize {
    let mut n = usize::MAX;
    for name in ["cpus", "mem", "disk"] {
        let need = each.scalar(name);
        if need > 0.0 {
            n = n.min((available.scalar(name) / need + 1e-9).floor() as usize);
        }
    }
    if n == usize::MAX { 0 } else { n }
}

/// Runs a churning framework until `stop` turns true or its `limit` of
/// tasks all ended. The subscription is returned so the caller decides
/// whether the framework stays (its tasks stay in `/master/state`).
pub async fn run_churn(
    master: &str,
    cfg: ChurnConfig,
    stats: Arc<ChurnStats>,
    mut stop: watch::Receiver<bool>,
) -> Result<Subscription, SchedulerError> {
    let mut sub = mesos_scheduler::subscribe(master, framework_info(&cfg.name)).await?;
    let caller = sub.caller.clone();
    let sem = Arc::new(Semaphore::new(cfg.call_concurrency.max(1)));
    let each = Resources::parse(&cfg.task_resources, "*").unwrap_or_default();
    let each_wire = each.to_wire(false);
    let no_filter = Some(Filters {
        refuse_seconds: 0.0,
    });
    let decline_filter = Some(Filters {
        refuse_seconds: cfg.decline_secs,
    });
    let mut offered_at: HashMap<TaskID, Instant> = HashMap::new();
    let mut next = 0u64;
    let mut inflight = 0usize;
    let mut ended = 0u64;
    loop {
        if cfg.limit.is_some_and(|l| ended >= l) || *stop.borrow() {
            break;
        }
        let event = tokio::select! {
            e = sub.events.recv() => e,
            _ = stop.changed() => continue,
        };
        let Some(event) = event else {
            return Err(SchedulerError::NotSubscribed);
        };
        match event.kind {
            EventType::OFFERS => {
                let now = Instant::now();
                let mut decline = Vec::new();
                for offer in event.offers.map(|o| o.offers).unwrap_or_default() {
                    stats.offers.fetch_add(1, Ordering::Relaxed);
                    let left = cfg.limit.map_or(u64::MAX, |l| l - next);
                    let cap = match stats.cap.load(Ordering::Relaxed) {
                        0 => cfg.max_inflight,
                        c => usize::try_from(c).unwrap_or(usize::MAX),
                    };
                    let n = fits(&Resources::from_wire(offer.resources), &each)
                        .min(cfg.tasks_per_offer)
                        .min(cap.saturating_sub(inflight))
                        .min(usize::try_from(left).unwrap_or(usize::MAX));
                    if n == 0 {
                        decline.push(offer.id);
                        continue;
                    }
                    let mut tasks = Vec::with_capacity(n);
                    for _ in 0..n {
                        let id = TaskID::new(format!("{}-{next}", cfg.name));
                        next += 1;
                        offered_at.insert(id.clone(), now);
                        tasks.push(TaskInfo {
                            name: id.value.clone(),
                            task_id: id,
                            agent_id: offer.agent_id.clone(),
                            resources: each_wire.clone(),
                            command: Some(CommandInfo {
                                value: Some("true".into()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        });
                    }
                    inflight += n;
                    stats.launched.fetch_add(n as u64, Ordering::Relaxed);
                    let c = caller.clone();
                    spawn_call(&sem, &stats, async move {
                        c.launch(vec![offer.id], tasks, no_filter).await
                    })
                    .await;
                }
                if !decline.is_empty() {
                    stats
                        .declined
                        .fetch_add(decline.len() as u64, Ordering::Relaxed);
                    let c = caller.clone();
                    spawn_call(&sem, &stats, async move {
                        c.decline(decline, decline_filter).await
                    })
                    .await;
                }
            }
            EventType::UPDATE => {
                let Some(status) = event.update.map(|u| u.status) else {
                    continue;
                };
                let running = status.state == TaskState::TASK_RUNNING;
                if running
                    && let Some(t) = offered_at.get(&status.task_id)
                    && stats.measuring.load(Ordering::Relaxed)
                {
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    stats
                        .latencies_ms
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(ms);
                }
                if is_terminal(status.state) && offered_at.remove(&status.task_id).is_some() {
                    inflight = inflight.saturating_sub(1);
                    ended += 1;
                    let counter = if status.state == TaskState::TASK_FINISHED {
                        &stats.finished
                    } else {
                        &stats.failed
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                if status.uuid.is_some() {
                    let c = caller.clone();
                    let st = stats.clone();
                    spawn_call(&sem, &stats, async move {
                        c.acknowledge(&status).await?;
                        if running {
                            st.running_acked.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(())
                    })
                    .await;
                }
            }
            _ => {}
        }
    }
    // Let the last calls (acknowledgements) complete.
    let _ = sem.acquire_many(cfg.call_concurrency.max(1) as u32).await;
    Ok(sub)
}

/// Declines every offer with a `refuse_secs` filter until `stop`.
pub async fn run_decliner(
    master: &str,
    name: &str,
    refuse_secs: f64,
    mut stop: watch::Receiver<bool>,
) -> Result<u64, SchedulerError> {
    let mut sub = mesos_scheduler::subscribe(master, framework_info(name)).await?;
    let mut declined = 0u64;
    loop {
        let event = tokio::select! {
            e = sub.events.recv() => e,
            _ = stop.changed() => return Ok(declined),
        };
        let Some(event) = event else {
            return Err(SchedulerError::NotSubscribed);
        };
        if event.kind == EventType::OFFERS {
            let ids: Vec<OfferID> = event
                .offers
                .map(|o| o.offers.into_iter().map(|o| o.id).collect())
                .unwrap_or_default();
            declined += ids.len() as u64;
            sub.caller
                .decline(
                    ids,
                    Some(Filters {
                        refuse_seconds: refuse_secs,
                    }),
                )
                .await?;
        }
    }
}

/// Allocation latency probe (see the module docs).
pub struct Probe {
    sub: Subscription,
    agent: AgentID,
    held: Option<OfferID>,
}

impl Probe {
    /// Subscribes and waits for a first offer; keeps one agent, declines
    /// every other agent for good.
    pub async fn start(master: &str, name: &str) -> Result<Probe, SchedulerError> {
        let sub = mesos_scheduler::subscribe(master, framework_info(name)).await?;
        let mut p = Probe {
            sub,
            agent: AgentID::default(),
            held: None,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while p.held.is_none() {
            let Ok(Some(e)) = tokio::time::timeout_at(deadline, p.sub.events.recv()).await else {
                return Err(SchedulerError::NotSubscribed);
            };
            p.on_event(e).await?;
        }
        Ok(p)
    }

    /// Handles an event; returns whether it brought the probe agent's offer.
    async fn on_event(&mut self, e: Event) -> Result<bool, SchedulerError> {
        if e.kind != EventType::OFFERS {
            return Ok(false);
        }
        let mut others = Vec::new();
        let mut got = false;
        for o in e.offers.map(|o| o.offers).unwrap_or_default() {
            if self.held.is_none() && (self.agent.value.is_empty() || o.agent_id == self.agent) {
                self.agent = o.agent_id.clone();
                self.held = Some(o.id);
                got = true;
            } else {
                others.push(o.id);
            }
        }
        if !others.is_empty() {
            decline_forever(&self.sub.caller, others).await?;
        }
        Ok(got)
    }

    /// One round: hand the offer back and time the next offer of the agent.
    /// `None` if it did not come within `timeout`.
    pub async fn round(&mut self, timeout: Duration) -> Result<Option<f64>, SchedulerError> {
        let Some(offer) = self.held.take() else {
            return Ok(None);
        };
        let start = Instant::now();
        let mut c = Call::new(CallType::ACCEPT, Some(self.sub.caller.framework_id.clone()));
        c.accept = Some(scheduler::Accept {
            offer_ids: vec![offer],
            operations: vec![],
            filters: Some(Filters {
                refuse_seconds: 0.0,
            }),
        });
        self.sub.caller.call(c).await?;
        let deadline = start + timeout;
        loop {
            let Ok(Some(e)) = tokio::time::timeout_at(deadline, self.sub.events.recv()).await
            else {
                return Ok(None);
            };
            if self.on_event(e).await? {
                return Ok(Some(start.elapsed().as_secs_f64() * 1000.0));
            }
        }
    }
}

async fn decline_forever(caller: &Caller, ids: Vec<OfferID>) -> Result<(), SchedulerError> {
    caller
        .decline(
            ids,
            Some(Filters {
                refuse_seconds: MAX_REFUSE_SECONDS,
            }),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_counts_the_scarcest_resource() {
        let avail = Resources::parse("cpus:1;mem:64;disk:10", "*").unwrap();
        let each = Resources::parse("cpus:0.01;mem:32", "*").unwrap();
        assert_eq!(fits(&avail, &each), 2);
        assert_eq!(fits(&avail, &Resources::new()), 0);
    }
}
