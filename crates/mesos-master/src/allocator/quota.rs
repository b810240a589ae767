//! Quota in the allocator (Mesos's quota v2 semantics, pure arithmetic).
//!
//! A role's *guarantee* is what the cluster keeps for it: resources other
//! roles may not take while the role is below it (the "headroom"). Its
//! *limit* is the most it may hold at all. What a role holds (its
//! consumption) is what is offered to or used by its frameworks.
//!
//! For every allocation the allocator asks [`offer_caps`] how much of each
//! resource the role may be offered now: at most its limit minus what it
//! holds, and at most the part that goes towards its own unmet guarantee
//! plus whatever free resources exceed what every role's unmet guarantee
//! needs. So a greedy role without quota can never eat into resources kept
//! for a role with quota, and the cluster still hands out everything that
//! is not needed for guarantees.

use super::{Allocator, Quantities, SHARE_NAMES, add_q, unreserved_q};
use mesos_types::Resources;
use mesos_types::policy::QuotaConfig;
use mesos_types::values::to_milli;

/// No limit on a resource.
pub const UNLIMITED: i128 = i128::MAX;

/// A role's quota in allocator units (milli-units of [`SHARE_NAMES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleQuota {
    pub guarantees: Quantities,
    /// [`UNLIMITED`] where the config sets no limit.
    pub limits: Quantities,
}

impl RoleQuota {
    /// Only the resource names the allocator shares are kept; the master
    /// refuses quota on any other name before it gets here.
    pub fn from_config(c: &QuotaConfig) -> RoleQuota {
        let mut q = RoleQuota {
            guarantees: [0; 4],
            limits: [UNLIMITED; 4],
        };
        for (i, name) in SHARE_NAMES.iter().enumerate() {
            if let Some(g) = c.guarantees.get(*name) {
                q.guarantees[i] = i128::from(to_milli(g.value));
            }
            if let Some(l) = c.limits.get(*name) {
                q.limits[i] = i128::from(to_milli(l.value));
            }
        }
        q
    }

    /// What the role still lacks of its guarantee, per resource.
    pub fn unmet(&self, consumed: &Quantities) -> Quantities {
        let mut u = [0; 4];
        for i in 0..4 {
            u[i] = (self.guarantees[i] - consumed[i]).max(0);
        }
        u
    }

    pub fn guarantee_met(&self, consumed: &Quantities) -> bool {
        self.unmet(consumed).iter().all(|u| *u == 0)
    }
}

/// The most of each resource a role may be offered now.
///
/// `own` is the role's quota (if any), `consumed` what it holds,
/// `required` the sum of every quota role's unmet guarantee (its own
/// included) and `free` all free resources of the cluster.
pub fn offer_caps(
    own: Option<&RoleQuota>,
    consumed: &Quantities,
    required: &Quantities,
    free: &Quantities,
) -> Quantities {
    let own_unmet = own.map(|q| q.unmet(consumed)).unwrap_or([0; 4]);
    let mut caps = [UNLIMITED; 4];
    for i in 0..4 {
        // Resources beyond what guarantees need may go to anyone; below
        // that, only to a role towards its own unmet guarantee.
        let surplus = (free[i] - required[i]).max(0);
        let mut cap = own_unmet[i].saturating_add(surplus);
        if let Some(q) = own
            && q.limits[i] != UNLIMITED
        {
            cap = cap.min((q.limits[i] - consumed[i]).max(0));
        }
        caps[i] = cap;
    }
    caps
}

impl Allocator {
    /// How much of `name` (one of [`SHARE_NAMES`]) `role` holds, offered
    /// or used.
    pub fn consumed_scalar(&self, role: &str, name: &str) -> f64 {
        SHARE_NAMES
            .iter()
            .position(|n| *n == name)
            .map_or(0.0, |i| self.consumed(role)[i] as f64 / 1000.0)
    }

    /// Sets (`Some`) or removes a role's quota. Every agent may now be
    /// offered differently: the next cycle is a full one.
    pub fn set_quota(&mut self, role: &str, quota: Option<RoleQuota>) {
        if self.quotas.is_empty() && quota.is_some() {
            // The headroom is kept only while some role has quota.
            let mut free = [0; 4];
            for a in self.agents.values() {
                add_q(&mut free, &unreserved_q(&a.free), 1);
            }
            self.free_total = free;
        }
        match quota {
            Some(q) => self.quotas.insert(role.to_string(), q),
            None => self.quotas.remove(role),
        };
        self.all_changed = true;
    }

    /// What `role` holds (offered or used), in allocator units.
    pub(super) fn consumed(&self, role: &str) -> Quantities {
        self.role_allocated.get(role).copied().unwrap_or([0; 4])
    }

    /// The sum of every quota role's unmet guarantee.
    fn required_headroom(&self) -> Quantities {
        let mut r = [0; 4];
        for (role, q) in &self.quotas {
            add_q(&mut r, &q.unmet(&self.consumed(role)), 1);
        }
        r
    }

    /// Cuts `offer` for `role` down to what quota allows (see [`quota`]).
    /// Only its unreserved part is cut: what is reserved for the role is
    /// its own, and a persistent volume is never split.
    pub(super) fn within_quota(&self, role: &str, offer: Resources) -> Resources {
        if self.quotas.is_empty() {
            return offer;
        }
        let caps = offer_caps(
            self.quotas.get(role),
            &self.consumed(role),
            &self.required_headroom(),
            &self.free_total,
        );
        let (reserved, mut unreserved): (Vec<_>, Vec<_>) = offer
            .into_vec()
            .into_iter()
            .partition(|r| !r.is_unreserved());
        let mut free = Resources::from_wire(unreserved.drain(..));
        let have = unreserved_q(&free);
        let mut keep_unreserved = true;
        for (i, name) in SHARE_NAMES.iter().enumerate() {
            if have[i] > 0 && caps[i] <= 0 {
                // All of a resource the agent has free is kept for others'
                // guarantees: offering the rest (say, memory without CPU)
                // would only leave both roles with a useless fragment.
                keep_unreserved = false;
                break;
            }
            if have[i] > caps[i] {
                free.shrink_scalar(name, i64::try_from(caps[i]).unwrap_or(i64::MAX));
            }
        }
        let mut out = Resources::from_wire(reserved);
        if keep_unreserved {
            out.add(&free);
        }
        out
    }

    /// Roles in the order they are offered to: by weighted share, except
    /// that roles below their quota guarantee come first (Mesos's first
    /// allocation stage).
    pub(super) fn role_order(&self) -> Vec<String> {
        let by_share = self.roles.order.iter().map(|(_, r)| r.clone());
        if self.quotas.is_empty() {
            return by_share.collect();
        }
        let (mut owed, rest): (Vec<String>, Vec<String>) = by_share.partition(|r| {
            self.quotas
                .get(r)
                .is_some_and(|q| !q.guarantee_met(&self.consumed(r)))
        });
        owed.extend(rest);
        owed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_types::values::Scalar;

    fn config(g: &[(&str, f64)], l: &[(&str, f64)]) -> QuotaConfig {
        let m = |v: &[(&str, f64)]| {
            v.iter()
                .map(|(k, x)| (k.to_string(), Scalar { value: *x }))
                .collect()
        };
        QuotaConfig {
            role: "r".into(),
            guarantees: m(g),
            limits: m(l),
        }
    }

    #[test]
    fn a_role_without_quota_may_take_only_the_surplus() {
        // 10 cpus free, 4 still owed to quota roles: 6 for anyone else.
        let caps = offer_caps(None, &[0; 4], &[4000, 0, 0, 0], &[10_000, 5000, 0, 0]);
        assert_eq!(caps[0], 6000);
        assert_eq!(caps[1], 5000);
    }

    #[test]
    fn a_quota_role_gets_its_unmet_guarantee_plus_the_surplus_up_to_its_limit() {
        let q = RoleQuota::from_config(&config(&[("cpus", 4.0)], &[("cpus", 5.0)]));
        // It holds 1 of its 4: owed 3, required 3 (only quota role), 10 free.
        let caps = offer_caps(
            Some(&q),
            &[1000, 0, 0, 0],
            &[3000, 0, 0, 0],
            &[10_000, 0, 0, 0],
        );
        assert_eq!(caps[0], 4000, "limit 5 minus the 1 it holds");
        assert_eq!(caps[1], 0, "no mem free");
        let q = RoleQuota::from_config(&config(&[("cpus", 4.0)], &[]));
        let caps = offer_caps(
            Some(&q),
            &[1000, 0, 0, 0],
            &[3000, 0, 0, 0],
            &[10_000, 0, 0, 0],
        );
        assert_eq!(caps[0], 3000 + 7000, "no limit: owed part plus surplus");
    }

    #[test]
    fn guarantee_is_met_only_on_every_resource() {
        let q = RoleQuota::from_config(&config(&[("cpus", 1.0), ("mem", 64.0)], &[]));
        assert!(!q.guarantee_met(&[1000, 0, 0, 0]));
        assert!(q.guarantee_met(&[1000, 64_000, 0, 0]));
        assert_eq!(q.unmet(&[500, 100_000, 0, 0]), [500, 0, 0, 0]);
    }
}
