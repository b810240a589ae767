//! `/master/roles` (spec 6.1) and `/master/weights`.
//!
//! A role is shown when a framework subscribes to it, something is
//! allocated or offered to it, an agent reserves resources for it, it has
//! a non-default weight or a quota, or `--roles` names it.
//!
//! The snapshot holds tasks by reference (their cached [`RenderedTask`]
//! carries role and resources); sums are made outside the lock.

use super::rope::{Obj, Rope};
use super::snapshot::AgentSnap;
use super::{RenderedTask, ResMap};
use crate::master::Master;
use mesos_types::*;
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

struct FrameworkPart {
    id: FrameworkID,
    roles: Vec<String>,
    /// Live tasks that still hold their resources.
    tasks: Vec<Arc<RenderedTask>>,
    /// Executors' and offers' allocation roles and resources.
    executors: Vec<(String, Resources)>,
    offers: Vec<(String, Resources)>,
}

/// What `/master/roles` shows, taken under the lock.
pub struct RolesSnapshot {
    weights: BTreeMap<String, f64>,
    quotas: BTreeMap<String, mesos_types::policy::QuotaConfig>,
    whitelist: Vec<String>,
    agents: Vec<AgentSnap>,
    frameworks: Vec<FrameworkPart>,
}

/// One role's sums.
#[derive(Default)]
struct Role<'a> {
    allocated: ResMap,
    offered: ResMap,
    reserved: ResMap,
    frameworks: BTreeSet<&'a str>,
}

impl RolesSnapshot {
    pub fn take(m: &Master) -> RolesSnapshot {
        RolesSnapshot {
            weights: m.config.weights.clone(),
            quotas: m.quotas.clone(),
            whitelist: m.config.roles.iter().flatten().cloned().collect(),
            agents: m.agents.values().map(|a| AgentSnap::take(m, a)).collect(),
            frameworks: m
                .frameworks
                .values()
                .map(|f| FrameworkPart {
                    id: f.id.clone(),
                    roles: f.info.effective_roles(),
                    tasks: (f.tasks.values())
                        .filter(|t| !t.resources_released)
                        .map(RenderedTask::of)
                        .collect(),
                    executors: (f.executors.values())
                        .flat_map(|e| e.values().map(|(_, r, role)| (role.clone(), r.clone())))
                        .collect(),
                    offers: (f.offers.iter())
                        .filter_map(|oid| m.offers.get(oid))
                        .map(|o| (o.role.clone(), o.resources.clone()))
                        .collect(),
                })
                .collect(),
        }
    }

    pub fn write(self) -> Vec<u8> {
        let mut roles: BTreeMap<&str, Role> = BTreeMap::new();
        for (r, w) in &self.weights {
            if *w != 1.0 {
                roles.entry(r.as_str()).or_default();
            }
        }
        for r in self.whitelist.iter().chain(self.quotas.keys()) {
            roles.entry(r.as_str()).or_default();
        }
        for f in &self.frameworks {
            for r in &f.roles {
                roles
                    .entry(r.as_str())
                    .or_default()
                    .frameworks
                    .insert(&f.id.value);
            }
            for t in &f.tasks {
                t.res
                    .add_to(&mut roles.entry(t.role.as_str()).or_default().allocated);
            }
            for (r, res) in &f.executors {
                roles
                    .entry(r.as_str())
                    .or_default()
                    .allocated
                    .extend(res.iter());
            }
            for (r, res) in &f.offers {
                roles
                    .entry(r.as_str())
                    .or_default()
                    .offered
                    .extend(res.iter());
            }
        }
        for a in &self.agents {
            for r in a.total().iter().filter(|r| !r.is_unreserved()) {
                roles
                    .entry(r.reservation_role())
                    .or_default()
                    .reserved
                    .extend([r]);
            }
        }
        let mut out = Rope::with_capacity(1024 * (roles.len() + 1));
        let mut o = Obj::new(&mut out);
        let roles: Vec<(&str, Role)> = roles.into_iter().collect();
        o.array("roles", &roles, |out, (name, r)| {
            let mut total = ResMap::default();
            total.merge(&r.allocated);
            total.merge(&r.offered);
            let mut o = Obj::new(out);
            o.entry("name", name);
            o.entry("weight", &self.weights.get(*name).copied().unwrap_or(1.0));
            // What the role holds (used and offered) is what it consumes.
            let scalars = |m: Option<&BTreeMap<String, mesos_types::values::Scalar>>| {
                Json::Object(
                    m.into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), json!(v.value)))
                        .collect(),
                )
            };
            let quota = self.quotas.get(*name);
            let mut q = Obj::new(o.key("quota"));
            q.entry("role", name);
            q.entry("guarantee", &scalars(quota.map(|c| &c.guarantees)));
            q.entry("limit", &scalars(quota.map(|c| &c.limits)));
            q.entry("consumed", &total);
            q.end();
            o.entry("resources", &total);
            o.entry("allocated", &r.allocated);
            o.entry("offered", &r.offered);
            o.entry("reserved", &r.reserved);
            o.entry("frameworks", &r.frameworks);
            o.end();
        });
        o.end();
        out.into_vec()
    }
}

/// `GET /master/weights`: the roles whose weight is not the default 1, as
/// `[{"role": r, "weight": w}]` ordered by role (from `--weights`, or
/// the registry once set through the API).
pub fn weights(m: &Master) -> Json {
    Json::Array(
        (m.config.weights.iter())
            .filter(|(_, w)| **w != 1.0)
            .map(|(r, w)| json!({"role": r, "weight": w}))
            .collect(),
    )
}
