//! Role weights and quota: what operators set per role. A change is
//! validated first (a refused one writes nothing), then recorded by the
//! registrar, and only once it is written does the book apply it (to the
//! allocator, rescinding outstanding offers so the next cycle honours it)
//! and answer. A restarted master recovers both from the registry.

use super::Master;
use super::registry::{RegistryOp, Then};
use crate::allocator::RoleQuota;
use crate::error::ApiError;
use mesos_types::OfferID;
use mesos_types::policy::{QuotaConfig, QuotaInfo, QuotaRequest, QuotaStatus, WeightInfo};
use mesos_types::values::{MAX_SCALAR, Scalar};
use mesos_types::{Resource, ValueType};
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::oneshot;

/// Answers an operator once its change is recorded (or refused).
pub type Reply = oneshot::Sender<Result<(), ApiError>>;

/// The resources quota may name (as Mesos: the allocator's scalars).
pub const QUOTA_RESOURCES: [&str; 4] = ["cpus", "mem", "disk", "gpus"];

impl Master {
    /// UPDATE_WEIGHTS / `PUT /weights`.
    pub fn request_update_weights(&mut self, infos: Vec<WeightInfo>, reply: Reply) {
        match self.validate_weights(&infos) {
            Ok(()) => self.queue_write(
                RegistryOp::SetWeights(infos),
                Then::Apply { reply: Some(reply) },
            ),
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    fn validate_weights(&self, infos: &[WeightInfo]) -> Result<(), ApiError> {
        if infos.is_empty() {
            return Err(ApiError::BadRequest("No weights given".into()));
        }
        let mut seen = BTreeSet::new();
        for w in infos {
            self.validate_policy_role(&w.role)?;
            if !w.weight.is_finite() || w.weight <= 0.0 {
                return Err(ApiError::BadRequest(format!(
                    "Invalid weight '{}' for role '{}': weights must be positive",
                    w.weight, w.role
                )));
            }
            if !seen.insert(w.role.as_str()) {
                return Err(ApiError::BadRequest(format!(
                    "Role '{}' appears more than once",
                    w.role
                )));
            }
        }
        Ok(())
    }

    /// A role an operator may set weight or quota for.
    fn validate_policy_role(&self, role: &str) -> Result<(), ApiError> {
        if role.is_empty() {
            return Err(ApiError::BadRequest("A role is required".into()));
        }
        super::frameworks::validate_role(role).map_err(ApiError::BadRequest)?;
        if let Some(whitelist) = &self.config.roles
            && !whitelist.contains(role)
        {
            return Err(ApiError::BadRequest(format!(
                "Role '{role}' is not in the master's --roles"
            )));
        }
        Ok(())
    }

    /// UPDATE_QUOTA: each config replaces its role's quota (an empty one
    /// removes it). Without `force`, the guarantees must fit in the
    /// cluster and no limit may be below what its role already holds.
    pub fn request_update_quota(&mut self, configs: Vec<QuotaConfig>, force: bool, reply: Reply) {
        match self.validate_quota(&configs, force) {
            Ok(()) => self.queue_write(
                RegistryOp::SetQuotas(configs),
                Then::Apply { reply: Some(reply) },
            ),
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// SET_QUOTA / `POST /quota` (the legacy form: the guarantee is also
    /// the limit; only for a role without quota).
    pub fn request_set_quota(&mut self, req: QuotaRequest, reply: Reply) {
        let result = self.legacy_quota(&req).and_then(|c| {
            self.validate_quota(std::slice::from_ref(&c), req.force)
                .map(|_| c)
        });
        match result {
            Ok(c) => self.queue_write(
                RegistryOp::SetQuotas(vec![c]),
                Then::Apply { reply: Some(reply) },
            ),
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// REMOVE_QUOTA / `DELETE /quota/<role>`.
    pub fn request_remove_quota(&mut self, role: &str, reply: Reply) {
        if !self.quotas.contains_key(role) {
            let _ = reply.send(Err(ApiError::BadRequest(format!(
                "Failed to remove quota: role '{role}' has no quota set"
            ))));
            return;
        }
        let cleared = QuotaConfig {
            role: role.to_string(),
            ..Default::default()
        };
        self.queue_write(
            RegistryOp::SetQuotas(vec![cleared]),
            Then::Apply { reply: Some(reply) },
        );
    }

    fn legacy_quota(&self, req: &QuotaRequest) -> Result<QuotaConfig, ApiError> {
        if self.quotas.contains_key(&req.role) {
            return Err(ApiError::BadRequest(format!(
                "Failed to validate set quota request: cannot set quota for role '{}' which \
                 already has quota",
                req.role
            )));
        }
        if req.guarantee.is_empty() {
            return Err(ApiError::BadRequest(
                "Failed to validate set quota request: 'guarantee' is empty".into(),
            ));
        }
        let mut amounts: BTreeMap<String, f64> = BTreeMap::new();
        for r in &req.guarantee {
            quota_resource_ok(r)?;
            *amounts.entry(r.name.clone()).or_default() += r.scalar.unwrap_or_default().value;
        }
        let scalars: BTreeMap<String, Scalar> = amounts
            .into_iter()
            .map(|(k, v)| (k, Scalar { value: v }))
            .collect();
        Ok(QuotaConfig {
            role: req.role.clone(),
            guarantees: scalars.clone(),
            limits: scalars,
        })
    }

    fn validate_quota(&self, configs: &[QuotaConfig], force: bool) -> Result<(), ApiError> {
        if configs.is_empty() {
            return Err(ApiError::BadRequest("No quota configs given".into()));
        }
        let mut seen = BTreeSet::new();
        for c in configs {
            self.validate_policy_role(&c.role)?;
            if c.role == "*" {
                return Err(ApiError::BadRequest(
                    "Quota cannot be set for the default role '*'".into(),
                ));
            }
            if !seen.insert(c.role.as_str()) {
                return Err(ApiError::BadRequest(format!(
                    "Role '{}' appears more than once",
                    c.role
                )));
            }
            for (kind, m) in [("guarantee", &c.guarantees), ("limit", &c.limits)] {
                for (name, v) in m {
                    if !QUOTA_RESOURCES.contains(&name.as_str()) {
                        return Err(ApiError::BadRequest(format!(
                            "Invalid quota {kind} for role '{}': '{name}' is not one of {}",
                            c.role,
                            QUOTA_RESOURCES.join(", ")
                        )));
                    }
                    if !v.value.is_finite() || v.value < 0.0 || v.value > MAX_SCALAR {
                        return Err(ApiError::BadRequest(format!(
                            "Invalid quota {kind} for role '{}': '{name}' must be between 0 \
                             and {MAX_SCALAR}, got {}",
                            c.role, v.value
                        )));
                    }
                }
            }
            for (name, g) in &c.guarantees {
                if let Some(l) = c.limits.get(name)
                    && g.value > l.value
                {
                    return Err(ApiError::BadRequest(format!(
                        "Invalid quota for role '{}': the guarantee of '{name}' ({}) is above \
                         its limit ({})",
                        c.role, g.value, l.value
                    )));
                }
            }
        }
        if force {
            return Ok(());
        }
        // The capacity heuristic: every guarantee, with these replacing
        // the roles' current ones, must fit in the cluster's total.
        let (total, _, _) = self.cluster_resources();
        let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
        let replaced: BTreeSet<&str> = configs.iter().map(|c| c.role.as_str()).collect();
        let current = self
            .quotas
            .values()
            .filter(|c| !replaced.contains(c.role.as_str()));
        for c in current.chain(configs.iter()) {
            for (name, g) in &c.guarantees {
                *sums.entry(name.as_str()).or_default() += g.value;
            }
        }
        for (name, sum) in sums {
            let have = total.scalar(name);
            if sum > have + 1e-9 {
                return Err(ApiError::Conflict(format!(
                    "Total quota guarantees for '{name}' ({sum}) would exceed the cluster's \
                     capacity ({have}); use 'force' to set it anyway"
                )));
            }
        }
        for c in configs {
            for (name, l) in &c.limits {
                // What the role holds (used and offered), as the allocator
                // keeps it: no walk over the tasks.
                let held = self.allocator.consumed_scalar(&c.role, name);
                if l.value + 1e-9 < held {
                    return Err(ApiError::Conflict(format!(
                        "The limit of '{name}' for role '{}' ({}) is below what the role \
                         already holds ({held}); use 'force' to set it anyway",
                        c.role, l.value
                    )));
                }
            }
        }
        Ok(())
    }

    /// `GET /quota`, GET_QUOTA.
    pub fn quota_status(&self) -> QuotaStatus {
        QuotaStatus {
            infos: self
                .quotas
                .values()
                .map(|c| QuotaInfo {
                    role: c.role.clone(),
                    principal: None,
                    guarantee: c
                        .guarantees
                        .iter()
                        .map(|(n, v)| Resource::scalar(n, v.value))
                        .collect(),
                })
                .collect(),
            configs: self.quotas.values().cloned().collect(),
        }
    }

    /// Applies a written weight change.
    pub(crate) fn apply_weights(&mut self, infos: &[WeightInfo], now: f64) {
        let roles: BTreeSet<&str> = infos.iter().map(|w| w.role.as_str()).collect();
        for w in infos {
            tracing::info!(role = %w.role, weight = w.weight, "weight updated");
            self.config.weights.insert(w.role.clone(), w.weight);
            self.allocator.set_weight(&w.role, w.weight);
        }
        // As Mesos: outstanding offers to these roles are rescinded so the
        // next cycle shares by the new weights.
        self.rescind_offers_where(|role| roles.contains(role), now);
    }

    /// Applies a written quota change.
    pub(crate) fn apply_quotas(&mut self, configs: &[QuotaConfig], now: f64) {
        for c in configs {
            if c.is_default() {
                tracing::info!(role = %c.role, "quota removed");
                self.quotas.remove(&c.role);
                self.allocator.set_quota(&c.role, None);
            } else {
                tracing::info!(role = %c.role, guarantees = ?c.guarantees, limits = ?c.limits, "quota set");
                self.allocator
                    .set_quota(&c.role, Some(RoleQuota::from_config(c)));
                self.quotas.insert(c.role.clone(), c.clone());
            }
        }
        // Offers made before the quota may hold what it keeps for a role.
        self.rescind_offers_where(|_| true, now);
    }

    /// Weights and quota from the registry (at start; before any agent).
    pub fn recover_policy(&mut self, weights: Vec<WeightInfo>, quotas: Vec<QuotaConfig>) {
        for w in weights {
            self.config.weights.insert(w.role.clone(), w.weight);
            self.allocator.set_weight(&w.role, w.weight);
        }
        for c in quotas.into_iter().filter(|c| !c.is_default()) {
            self.allocator
                .set_quota(&c.role, Some(RoleQuota::from_config(&c)));
            self.quotas.insert(c.role.clone(), c);
        }
    }

    fn rescind_offers_where(&mut self, role: impl Fn(&str) -> bool, now: f64) {
        let ids: Vec<OfferID> = self
            .offers
            .values()
            .filter(|o| role(&o.role))
            .map(|o| o.offer.id.clone())
            .collect();
        for id in ids {
            self.rescind_offer(&id, now);
        }
        self.allocation_wanted = true;
    }
}

/// A resource a legacy quota request may name: scalar, unreserved, one of
/// [`QUOTA_RESOURCES`], not a disk source or revocable.
fn quota_resource_ok(r: &Resource) -> Result<(), ApiError> {
    let bad = |why: &str| {
        Err(ApiError::BadRequest(format!(
            "Failed to validate set quota request: resource '{}' {why}",
            r.name
        )))
    };
    if r.kind != ValueType::SCALAR || r.scalar.is_none() {
        return bad("is not a scalar");
    }
    if !QUOTA_RESOURCES.contains(&r.name.as_str()) {
        return bad(&format!("is not one of {}", QUOTA_RESOURCES.join(", ")));
    }
    if !r.is_unreserved() {
        return bad("is reserved");
    }
    if r.disk.is_some() || r.revocable.is_some() {
        return bad("must not have disk info or be revocable");
    }
    let v = r.scalar.unwrap_or_default().value;
    if !v.is_finite() || v < 0.0 {
        return bad("must be a non-negative number");
    }
    Ok(())
}
