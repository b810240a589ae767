//! `mesos.v1.Resource` and the arithmetic the master and agent do on lists of
//! them: add, subtract, contains, text parsing, and the legacy "resource map".
//!
//! Internally reservations use the post-refinement form (a `reservations`
//! stack; empty means unreserved `*`). Input in the pre-refinement form
//! (`role` + optional `reservation`) is normalized on the way in, and
//! [`Resource::to_pre_refinement`] converts back for frameworks that lack the
//! `RESERVATION_REFINEMENT` capability.

use crate::enums::{ReservationType, ValueType, lenient};
use crate::values::{MAX_SCALAR, Range, Ranges, Scalar, Set, from_milli, to_milli};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AllocationInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ReservationInfo {
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::deserialize"
    )]
    pub kind: Option<ReservationType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Json>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ValueType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scalar: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Ranges>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<Set>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_info: Option<AllocationInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<ReservationInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reservations: Vec<ReservationInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocable: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<Json>,
}

/// Why a resource (or a resource string) was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResourceError {
    #[error("resource name must not be empty")]
    EmptyName,
    #[error("resource '{0}' has a value that does not match its type {1}")]
    TypeMismatch(String, ValueType),
    #[error("resource '{0}' has a negative or non-finite scalar value")]
    BadScalar(String),
    #[error("resource '{0}' has scalar value {1} above the maximum of {max}", max = MAX_SCALAR)]
    ScalarTooLarge(String, f64),
    #[error("resource '{0}' has an inverted range")]
    BadRange(String),
    #[error("cannot parse resource '{0}': {1}")]
    Parse(String, String),
}

impl Resource {
    pub fn scalar(name: &str, value: f64) -> Resource {
        Resource::with_value(name, ValueType::SCALAR, Some(Scalar { value }), None, None)
    }

    pub fn ranges(name: &str, ranges: Vec<(u64, u64)>) -> Resource {
        let r = Ranges::normalized(
            ranges
                .into_iter()
                .map(|(begin, end)| Range { begin, end })
                .collect(),
        );
        Resource::with_value(name, ValueType::RANGES, None, Some(r), None)
    }

    pub fn set(name: &str, items: Vec<String>) -> Resource {
        let s = Set::from_set(items.into_iter().collect());
        Resource::with_value(name, ValueType::SET, None, None, Some(s))
    }

    fn with_value(
        name: &str,
        kind: ValueType,
        scalar: Option<Scalar>,
        ranges: Option<Ranges>,
        set: Option<Set>,
    ) -> Resource {
        Resource {
            name: name.to_string(),
            kind,
            scalar,
            ranges,
            set,
            role: None,
            allocation_info: None,
            reservation: None,
            reservations: Vec::new(),
            disk: None,
            revocable: None,
            shared: None,
            provider_id: None,
        }
    }

    /// Structural checks Mesos applies before accepting a resource.
    pub fn validate(&self) -> Result<(), ResourceError> {
        if self.name.is_empty() {
            return Err(ResourceError::EmptyName);
        }
        match self.kind {
            ValueType::SCALAR => {
                let v = self
                    .scalar
                    .ok_or_else(|| ResourceError::TypeMismatch(self.name.clone(), self.kind))?
                    .value;
                if !v.is_finite() || v < 0.0 {
                    return Err(ResourceError::BadScalar(self.name.clone()));
                }
                if v > MAX_SCALAR {
                    return Err(ResourceError::ScalarTooLarge(self.name.clone(), v));
                }
            }
            ValueType::RANGES => {
                let r = self
                    .ranges
                    .as_ref()
                    .ok_or_else(|| ResourceError::TypeMismatch(self.name.clone(), self.kind))?;
                if r.range.iter().any(|x| x.begin > x.end) {
                    return Err(ResourceError::BadRange(self.name.clone()));
                }
            }
            ValueType::SET => {
                if self.set.is_none() {
                    return Err(ResourceError::TypeMismatch(self.name.clone(), self.kind));
                }
            }
            ValueType::TEXT => {
                return Err(ResourceError::TypeMismatch(self.name.clone(), self.kind));
            }
        }
        Ok(())
    }

    /// Moves a pre-refinement `role`/`reservation` into the `reservations` stack.
    pub fn normalized(mut self) -> Resource {
        if self.reservations.is_empty()
            && let Some(role) = self.role.take().filter(|r| r != "*")
        {
            let dynamic = self.reservation.take();
            self.reservations.push(ReservationInfo {
                kind: Some(if dynamic.is_some() {
                    ReservationType::DYNAMIC
                } else {
                    ReservationType::STATIC
                }),
                role: Some(role),
                principal: dynamic.as_ref().and_then(|d| d.principal.clone()),
                labels: dynamic.and_then(|d| d.labels),
            });
        }
        self.role = None;
        self.reservation = None;
        if let Some(Scalar { value }) = self.scalar {
            self.scalar = Some(Scalar {
                value: from_milli(to_milli(value)),
            });
        }
        self
    }

    /// The role this resource is reserved for, `*` when unreserved.
    pub fn reservation_role(&self) -> &str {
        self.reservations
            .last()
            .and_then(|r| r.role.as_deref())
            .unwrap_or("*")
    }

    pub fn is_unreserved(&self) -> bool {
        self.reservations.is_empty()
    }

    /// The form sent to frameworks without `RESERVATION_REFINEMENT`.
    pub fn to_pre_refinement(&self) -> Resource {
        let mut r = self.clone();
        let top = r.reservations.pop();
        r.reservations.clear();
        r.role = Some(
            top.as_ref()
                .and_then(|t| t.role.clone())
                .unwrap_or_else(|| "*".into()),
        );
        if let Some(t) = top.filter(|t| t.kind == Some(ReservationType::DYNAMIC)) {
            r.reservation = Some(ReservationInfo {
                kind: None,
                role: None,
                principal: t.principal,
                labels: t.labels,
            });
        }
        r
    }

    fn same_kind(&self, other: &Resource) -> bool {
        self.name == other.name
            && self.kind == other.kind
            && self.reservations == other.reservations
            && self.allocation_info == other.allocation_info
            && self.disk == other.disk
            && self.revocable == other.revocable
            && self.shared == other.shared
            && self.provider_id == other.provider_id
    }

    fn is_empty(&self) -> bool {
        match self.kind {
            ValueType::SCALAR => self.scalar.map(|s| to_milli(s.value) <= 0).unwrap_or(true),
            ValueType::RANGES => self.ranges.as_ref().map(|r| r.is_empty()).unwrap_or(true),
            ValueType::SET => self.set.as_ref().map(|s| s.item.is_empty()).unwrap_or(true),
            ValueType::TEXT => true,
        }
    }

    fn merge(&mut self, other: &Resource) {
        match self.kind {
            ValueType::SCALAR => {
                let a = to_milli(self.scalar.unwrap_or_default().value);
                let b = to_milli(other.scalar.unwrap_or_default().value);
                self.scalar = Some(Scalar {
                    value: from_milli(a.saturating_add(b)),
                });
            }
            ValueType::RANGES => {
                let a = self.ranges.clone().unwrap_or_default();
                self.ranges = Some(a.add(&other.ranges.clone().unwrap_or_default()));
            }
            ValueType::SET => {
                let mut a = self.set.clone().unwrap_or_default().to_set();
                a.extend(other.set.clone().unwrap_or_default().item);
                self.set = Some(Set::from_set(a));
            }
            ValueType::TEXT => {}
        }
    }

    fn remove(&mut self, other: &Resource) {
        match self.kind {
            ValueType::SCALAR => {
                let a = to_milli(self.scalar.unwrap_or_default().value);
                let b = to_milli(other.scalar.unwrap_or_default().value);
                self.scalar = Some(Scalar {
                    value: from_milli(a.saturating_sub(b).max(0)),
                });
            }
            ValueType::RANGES => {
                let a = self.ranges.clone().unwrap_or_default();
                self.ranges = Some(a.subtract(&other.ranges.clone().unwrap_or_default()));
            }
            ValueType::SET => {
                let mut a = self.set.clone().unwrap_or_default().to_set();
                for i in &other.set.clone().unwrap_or_default().item {
                    a.remove(i);
                }
                self.set = Some(Set::from_set(a));
            }
            ValueType::TEXT => {}
        }
    }

    fn covers(&self, other: &Resource) -> bool {
        match self.kind {
            ValueType::SCALAR => {
                to_milli(self.scalar.unwrap_or_default().value)
                    >= to_milli(other.scalar.unwrap_or_default().value)
            }
            ValueType::RANGES => self
                .ranges
                .clone()
                .unwrap_or_default()
                .contains(&other.ranges.clone().unwrap_or_default()),
            ValueType::SET => {
                let mine = self.set.clone().unwrap_or_default().to_set();
                other
                    .set
                    .as_ref()
                    .map(|s| s.item.iter().all(|i| mine.contains(i)))
                    .unwrap_or(true)
            }
            ValueType::TEXT => false,
        }
    }
}

/// A normalized multiset of resources: each distinct (name, type,
/// reservation, allocation, disk...) appears at most once, never empty.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Resources(Vec<Resource>);

impl Resources {
    pub fn new() -> Resources {
        Resources(Vec::new())
    }

    /// Builds from wire resources, normalizing reservations and merging duplicates.
    pub fn from_wire(list: impl IntoIterator<Item = Resource>) -> Resources {
        let mut out = Resources::new();
        for r in list {
            out.add_one(r.normalized());
        }
        out
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Resource> {
        self.0.iter()
    }

    pub fn into_vec(self) -> Vec<Resource> {
        self.0
    }

    pub fn as_slice(&self) -> &[Resource] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn add_one(&mut self, r: Resource) {
        if r.is_empty() {
            return;
        }
        match self.0.iter_mut().find(|x| x.same_kind(&r)) {
            Some(x) => x.merge(&r),
            None => self.0.push(r),
        }
    }

    pub fn add(&mut self, other: &Resources) {
        for r in &other.0 {
            self.add_one(r.clone());
        }
    }

    /// Removes what it can of `other`; parts not present are ignored.
    pub fn subtract(&mut self, other: &Resources) {
        for r in &other.0 {
            if let Some(x) = self.0.iter_mut().find(|x| x.same_kind(r)) {
                x.remove(r);
            }
        }
        self.0.retain(|r| !r.is_empty());
    }

    pub fn plus(&self, other: &Resources) -> Resources {
        let mut r = self.clone();
        r.add(other);
        r
    }

    pub fn minus(&self, other: &Resources) -> Resources {
        let mut r = self.clone();
        r.subtract(other);
        r
    }

    pub fn contains(&self, other: &Resources) -> bool {
        other
            .0
            .iter()
            .all(|o| self.0.iter().any(|x| x.same_kind(o) && x.covers(o)))
    }

    /// Sum of a scalar resource across all reservations and allocations.
    pub fn scalar(&self, name: &str) -> f64 {
        from_milli(
            self.0
                .iter()
                .filter(|r| r.name == name && r.kind == ValueType::SCALAR)
                .map(|r| to_milli(r.scalar.unwrap_or_default().value))
                .fold(0i64, i64::saturating_add),
        )
    }

    /// Lowers the total of the scalar resources named `name` to at most
    /// `max_milli` milli-units, taking from the last entries first
    /// (reserved ones come after unreserved ones only by insertion order;
    /// the allocator caps offers by quantity, whichever entry it comes
    /// from). Entries that reach zero are dropped.
    pub fn shrink_scalar(&mut self, name: &str, max_milli: i64) {
        let mut excess = to_milli(self.scalar(name)) - max_milli.max(0);
        for r in self.0.iter_mut().rev() {
            if excess <= 0 {
                break;
            }
            if r.name != name || r.kind != ValueType::SCALAR {
                continue;
            }
            let Some(s) = r.scalar.as_mut() else {
                continue;
            };
            let have = to_milli(s.value);
            let take = have.min(excess);
            s.value = from_milli(have - take);
            excess -= take;
        }
        self.0.retain(|r| !r.is_empty());
    }

    /// The same resources tagged as allocated to `role`.
    pub fn allocated_to(&self, role: &str) -> Resources {
        let info = Some(AllocationInfo {
            role: Some(role.to_string()),
        });
        Resources::from_iter_merged(self.0.iter().cloned().map(|mut r| {
            r.allocation_info = info.clone();
            r
        }))
    }

    /// The same resources without allocation info (how agents hold them).
    pub fn unallocated(&self) -> Resources {
        Resources::from_iter_merged(self.0.iter().cloned().map(|mut r| {
            r.allocation_info = None;
            r
        }))
    }

    /// Resources usable by `role`: unreserved ones plus those reserved for it.
    pub fn usable_by(&self, role: &str) -> Resources {
        Resources::from_iter_merged(
            self.0
                .iter()
                .filter(|r| r.is_unreserved() || r.reservation_role() == role)
                .cloned(),
        )
    }

    fn from_iter_merged(it: impl Iterator<Item = Resource>) -> Resources {
        let mut out = Resources::new();
        for r in it {
            out.add_one(r);
        }
        out
    }

    /// Wire form for a framework with or without `RESERVATION_REFINEMENT`.
    pub fn to_wire(&self, refinement: bool) -> Vec<Resource> {
        if refinement {
            self.0.clone()
        } else {
            self.0.iter().map(Resource::to_pre_refinement).collect()
        }
    }

    /// The legacy endpoints' resource map: always `cpus`, `gpus`, `mem`,
    /// `disk`; other scalars by name; ranges as `"[a-b, c-d]"`; sets as `"{a, b}"`.
    pub fn to_map(&self) -> Map<String, Json> {
        let mut m = Map::new();
        for k in ["cpus", "gpus", "mem", "disk"] {
            m.insert(k.into(), Json::from(self.scalar(k)));
        }
        let mut ranges: BTreeMap<String, Ranges> = BTreeMap::new();
        let mut sets: BTreeMap<String, Set> = BTreeMap::new();
        for r in &self.0 {
            let key = if r.revocable.is_some() {
                format!("{}_revocable", r.name)
            } else {
                r.name.clone()
            };
            match r.kind {
                ValueType::SCALAR if !["cpus", "gpus", "mem", "disk"].contains(&key.as_str()) => {
                    let cur = m.get(&key).and_then(Json::as_f64).unwrap_or(0.0);
                    m.insert(
                        key,
                        Json::from(from_milli(
                            to_milli(cur)
                                .saturating_add(to_milli(r.scalar.unwrap_or_default().value)),
                        )),
                    );
                }
                ValueType::RANGES => {
                    let e = ranges.entry(key).or_default();
                    *e = e.add(r.ranges.as_ref().unwrap_or(&Ranges::default()));
                }
                ValueType::SET => {
                    let e = sets.entry(key).or_default();
                    let mut s = e.to_set();
                    s.extend(r.set.clone().unwrap_or_default().item);
                    *e = Set::from_set(s);
                }
                _ => {}
            }
        }
        for (k, v) in ranges {
            m.insert(k, Json::from(v.render()));
        }
        for (k, v) in sets {
            m.insert(k, Json::from(v.render()));
        }
        m
    }

    /// Parses the text form `cpus:2;mem(role):1024;ports:[31000-32000];x:{a,b}`
    /// or a JSON array of `Resource` objects. `default_role` applies to entries
    /// without an explicit `(role)`.
    pub fn parse(text: &str, default_role: &str) -> Result<Resources, ResourceError> {
        let t = text.trim();
        if t.starts_with('[') {
            let list: Vec<Resource> = serde_json::from_str(t)
                .map_err(|e| ResourceError::Parse(t.to_string(), e.to_string()))?;
            for r in &list {
                r.validate()?;
            }
            return Ok(Resources::from_wire(list));
        }
        let mut out = Resources::new();
        for part in t.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let err = |m: &str| ResourceError::Parse(part.to_string(), m.to_string());
            let (key, value) = part
                .split_once(':')
                .ok_or_else(|| err("expected name:value"))?;
            let (name, role) = match key.split_once('(') {
                Some((n, rest)) => (
                    n.trim(),
                    rest.strip_suffix(')')
                        .ok_or_else(|| err("unclosed '('"))?
                        .trim(),
                ),
                None => (key.trim(), default_role),
            };
            let value = value.trim();
            let mut r = if let Some(inner) = value.strip_prefix('[') {
                let inner = inner.strip_suffix(']').ok_or_else(|| err("unclosed '['"))?;
                let mut v = Vec::new();
                for piece in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let (b, e) = piece
                        .split_once('-')
                        .ok_or_else(|| err("range needs begin-end"))?;
                    let b: u64 = b.trim().parse().map_err(|_| err("bad range number"))?;
                    let e: u64 = e.trim().parse().map_err(|_| err("bad range number"))?;
                    v.push((b, e));
                }
                let res = Resource::ranges(name, v.clone());
                if v.iter().any(|(b, e)| b > e) {
                    return Err(ResourceError::BadRange(name.to_string()));
                }
                res
            } else if let Some(inner) = value.strip_prefix('{') {
                let inner = inner.strip_suffix('}').ok_or_else(|| err("unclosed '{'"))?;
                Resource::set(
                    name,
                    inner
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                )
            } else {
                let v: f64 = value.parse().map_err(|_| err("not a number"))?;
                Resource::scalar(name, v)
            };
            r.role = Some(role.to_string());
            r.validate()?;
            out.add_one(r.normalized());
        }
        Ok(out)
    }
}

impl FromIterator<Resource> for Resources {
    fn from_iter<T: IntoIterator<Item = Resource>>(iter: T) -> Self {
        Resources::from_wire(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_text_form() {
        let r = Resources::parse("cpus:2;mem:1024;ports:[31000-32000];disk(ops):10", "*").unwrap();
        assert_eq!(r.scalar("cpus"), 2.0);
        assert_eq!(r.scalar("mem"), 1024.0);
        assert_eq!(r.scalar("disk"), 10.0);
        let m = r.to_map();
        assert_eq!(m["ports"], "[31000-32000]");
        assert_eq!(m["gpus"], 0.0);
        let disk = r.iter().find(|x| x.name == "disk").unwrap();
        assert_eq!(disk.reservation_role(), "ops");
        assert_eq!(disk.to_pre_refinement().role.as_deref(), Some("ops"));
    }

    #[test]
    fn shrink_scalar_caps_one_name_and_leaves_the_rest() {
        let mut r = Resources::parse("cpus:2;mem:1024;cpus(ops):1;ports:[1-2]", "*").unwrap();
        r.shrink_scalar("cpus", 1500);
        assert_eq!(r.scalar("cpus"), 1.5);
        assert_eq!(r.scalar("mem"), 1024.0);
        r.shrink_scalar("cpus", 0);
        assert_eq!(r.scalar("cpus"), 0.0);
        assert!(r.iter().all(|x| x.name != "cpus"), "empty entries dropped");
        r.shrink_scalar("mem", 4_096_000);
        assert_eq!(
            r.scalar("mem"),
            1024.0,
            "a cap above what is there changes nothing"
        );
        assert!(r.iter().any(|x| x.name == "ports"));
    }

    #[test]
    fn parses_json_form_and_rejects_garbage() {
        let r = Resources::parse(
            r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":1.5}}]"#,
            "*",
        )
        .unwrap();
        assert_eq!(r.scalar("cpus"), 1.5);
        assert!(Resources::parse("cpus:abc", "*").is_err());
        assert!(Resources::parse("cpus:-1", "*").is_err());
        assert!(Resources::parse("ports:[10-5]", "*").is_err());
        assert!(Resources::parse("cpus", "*").is_err());
    }

    #[test]
    fn fixed_point_scalars() {
        let mut a = Resources::parse("cpus:0.1", "*").unwrap();
        a.add(&Resources::parse("cpus:0.2", "*").unwrap());
        assert!(a.contains(&Resources::parse("cpus:0.3", "*").unwrap()));
        assert!(Resources::parse("cpus:0.3", "*").unwrap().contains(&a));
    }

    #[test]
    fn subtract_and_contains_ports() {
        let total = Resources::parse("cpus:4;ports:[31000-32000]", "*").unwrap();
        let used = Resources::parse("cpus:1;ports:[31000-31000]", "*").unwrap();
        let free = total.minus(&used);
        assert!(!free.contains(&used));
        assert_eq!(free.scalar("cpus"), 3.0);
        assert_eq!(free.plus(&used), total);
    }

    /// Scalars come from schedulers and agents: one far beyond any machine
    /// is refused, so sums of accepted values stay exact in fixed point.
    #[test]
    fn scalars_beyond_the_bound_are_refused() {
        assert!(Resources::parse("cpus:9e15", "*").is_err());
        assert!(Resource::scalar("cpus", 9e15).validate().is_err());
        assert!(Resource::scalar("mem", f64::INFINITY).validate().is_err());
        let err = Resource::scalar("cpus", 1e300).validate().unwrap_err();
        assert!(err.to_string().contains("cpus"), "{err}");
        assert!(
            Resource::scalar("mem", crate::values::MAX_SCALAR)
                .validate()
                .is_ok()
        );
        assert!(Resources::parse("mem:1000000000000", "*").is_ok());
    }

    /// Unvalidated input (or many agents' worth of totals) must never wrap:
    /// the master once listed a 2 * 9e15 cpus task with `cpus: 0.0`.
    #[test]
    fn sums_of_huge_scalars_saturate_instead_of_wrapping() {
        let huge = || Resource::scalar("cpus", 9e15);
        let r = Resources::from_wire([huge(), huge()]);
        assert!(r.scalar("cpus") >= 9e15, "{}", r.scalar("cpus"));
        let mut total = r.clone();
        total.add(&r);
        assert!(total.scalar("cpus") >= 9e15);
        assert!(total.contains(&r));
        assert!(!Resources::parse("cpus:2", "*").unwrap().contains(&r));
        assert!(r.to_map()["cpus"].as_f64().unwrap() >= 9e15);
    }

    fn arb_resources() -> impl Strategy<Value = Resources> {
        (
            0u32..8000,
            0u32..100_000,
            proptest::collection::vec((31000u64..32000, 0u64..10), 0..4),
        )
            .prop_map(|(c, m, p)| {
                let mut r = Resources::new();
                r.add_one(Resource::scalar("cpus", c as f64 / 1000.0));
                r.add_one(Resource::scalar("mem", m as f64));
                r.add_one(Resource::ranges(
                    "ports",
                    p.into_iter().map(|(b, l)| (b, b + l)).collect(),
                ));
                r
            })
    }

    proptest! {
        #[test]
        fn add_then_subtract_is_identity(a in arb_resources(), b in arb_resources()) {
            let sum = a.plus(&b);
            prop_assert!(sum.contains(&a));
            prop_assert!(sum.contains(&b) || b.iter().any(|r| r.kind == ValueType::RANGES));
            prop_assert_eq!(sum.scalar("cpus"), from_milli(to_milli(a.scalar("cpus")) + to_milli(b.scalar("cpus"))));
            let back = sum.minus(&a);
            prop_assert!(back.scalar("mem") == b.scalar("mem"));
        }

        #[test]
        fn contains_is_reflexive_and_subtraction_shrinks(a in arb_resources(), b in arb_resources()) {
            prop_assert!(a.contains(&a));
            let d = a.minus(&b);
            prop_assert!(a.contains(&d));
        }

        #[test]
        fn text_roundtrip(c in 1u32..64_000, m in 1u32..1_000_000) {
            let t = format!("cpus:{};mem:{}", c as f64 / 1000.0, m);
            let r = Resources::parse(&t, "*").unwrap();
            prop_assert_eq!(r.scalar("cpus"), c as f64 / 1000.0);
            prop_assert_eq!(r.scalar("mem"), m as f64);
        }
    }
}
