//! Operations that change what resources are, not how much there is:
//! dynamic reservations (RESERVE, UNRESERVE) and persistent volumes
//! (CREATE, DESTROY). Each turns some resources (`consumed`) into others
//! (`converted`) of the same quantity; applied to an offer or an agent's
//! total they must find what they consume there. Pure functions, shared by
//! the master (bookkeeping) and the agent (what it checkpoints).

use crate::enums::ReservationType;
use crate::resources::{Resource, Resources};
use serde_json::Value as Json;

/// What an operation takes away and what it puts in its place.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Conversion {
    pub consumed: Resources,
    pub converted: Resources,
}

impl Conversion {
    /// `total` with the conversion applied, or what is missing.
    pub fn apply(&self, total: &Resources) -> Result<Resources, String> {
        if !total.contains(&self.consumed) {
            return Err(format!(
                "{} are not available (have {})",
                describe(&self.consumed),
                describe(total)
            ));
        }
        let mut out = total.minus(&self.consumed);
        out.add(&self.converted);
        Ok(out)
    }
}

fn describe(r: &Resources) -> String {
    serde_json::to_string(&r.to_wire(true)).unwrap_or_default()
}

fn disk_field<'a>(r: &'a Resource, key: &str) -> Option<&'a Json> {
    r.disk.as_ref().and_then(|d| d.get(key))
}

/// A persistent volume's id.
pub fn persistence_id(r: &Resource) -> Option<&str> {
    disk_field(r, "persistence")
        .and_then(|p| p.get("id"))
        .and_then(Json::as_str)
}

/// Where a persistent volume appears in a task's sandbox.
pub fn container_path(r: &Resource) -> Option<&str> {
    disk_field(r, "volume")
        .and_then(|v| v.get("container_path"))
        .and_then(Json::as_str)
}

/// The same resource without its persistent volume (the disk it was made of).
pub fn without_volume(r: &Resource) -> Resource {
    let mut out = r.clone();
    if let Some(Json::Object(mut d)) = out.disk.take() {
        d.remove("persistence");
        d.remove("volume");
        if !d.is_empty() {
            out.disk = Some(Json::Object(d));
        }
    }
    out
}

fn is_dynamic_top(r: &Resource) -> bool {
    r.reservations
        .last()
        .is_some_and(|t| t.kind == Some(ReservationType::DYNAMIC))
}

/// The resource with its top (dynamic) reservation removed.
fn popped(r: &Resource) -> Resource {
    let mut out = r.clone();
    out.reservations.pop();
    out
}

/// Whether the agent must remember this resource across restarts: it
/// carries a dynamic reservation or is a persistent volume.
pub fn is_checkpointed(r: &Resource) -> bool {
    r.reservations
        .iter()
        .any(|x| x.kind == Some(ReservationType::DYNAMIC))
        || persistence_id(r).is_some()
}

/// What of `total` the agent checkpoints.
pub fn checkpointed(total: &Resources) -> Resources {
    Resources::from_wire(total.iter().filter(|r| is_checkpointed(r)).cloned())
}

/// The static resource a checkpointed one was made from.
pub fn base_of(r: &Resource) -> Resource {
    let mut out = without_volume(r);
    while is_dynamic_top(&out) {
        out.reservations.pop();
    }
    out
}

/// An agent's total: its static resources with the checkpointed ones
/// (reservations, volumes) put in place of what they were made from.
/// Checkpointed resources whose base the agent no longer has (its
/// `--resources` shrank) are returned separately.
pub fn with_checkpointed(
    static_total: &Resources,
    checkpointed: &[Resource],
) -> (Resources, Vec<Resource>) {
    let mut total = static_total.clone();
    let mut dropped = Vec::new();
    for c in checkpointed {
        let c = c.clone().normalized();
        let conv = Conversion {
            consumed: Resources::from_wire([base_of(&c)]),
            converted: Resources::from_wire([c.clone()]),
        };
        match conv.apply(&total) {
            Ok(t) => total = t,
            Err(_) => dropped.push(c),
        }
    }
    (total, dropped)
}

/// The most resources one operation may name: merging them is linear per
/// resource, and an agent has a handful of kinds, so more can only be an
/// attempt to make the master work.
pub const MAX_OPERATION_RESOURCES: usize = 1024;

fn normalized_all(list: &[Resource]) -> Result<Vec<Resource>, String> {
    if list.is_empty() {
        return Err("no resources given".into());
    }
    if list.len() > MAX_OPERATION_RESOURCES {
        return Err(format!(
            "{} resources given; at most {MAX_OPERATION_RESOURCES} per operation",
            list.len()
        ));
    }
    list.iter()
        .map(|r| {
            r.validate().map_err(|e| e.to_string())?;
            Ok(r.clone().normalized())
        })
        .collect()
}

/// RESERVE: each resource carries, on top, a dynamic reservation for
/// `role` (any role when `None`, as an operator may reserve for any).
pub fn reserve(resources: &[Resource], role: Option<&str>) -> Result<Conversion, String> {
    reserve_from(&[], resources, role)
}

/// RESERVE with Mesos's optional `source`: when given, it must be exactly
/// what the reservations are made from (the resources with their top
/// reservation removed), so a re-reservation cannot silently take other
/// resources than the operator named.
pub fn reserve_from(
    source: &[Resource],
    resources: &[Resource],
    role: Option<&str>,
) -> Result<Conversion, String> {
    let c = reserve_unchecked(resources, role)?;
    if !source.is_empty() {
        let given = Resources::from_wire(normalized_all(source)?);
        if given != c.consumed {
            return Err(format!(
                "'source' {} is not what the reservation is made from ({})",
                describe(&given),
                describe(&c.consumed)
            ));
        }
    }
    Ok(c)
}

fn reserve_unchecked(resources: &[Resource], role: Option<&str>) -> Result<Conversion, String> {
    let list = normalized_all(resources)?;
    let mut c = Conversion::default();
    for r in list {
        let Some(top) = r.reservations.last() else {
            return Err(format!("'{}' carries no reservation", r.name));
        };
        if top.kind != Some(ReservationType::DYNAMIC) {
            return Err(format!(
                "'{}' must be a dynamic reservation (type DYNAMIC)",
                r.name
            ));
        }
        let top_role = top.role.as_deref().unwrap_or("");
        if top_role.is_empty() || top_role == "*" {
            return Err(format!("'{}' is reserved for no role", r.name));
        }
        if let Some(role) = role
            && top_role != role
        {
            return Err(format!(
                "'{}' is reserved for role '{top_role}', not the offer's role '{role}'",
                r.name
            ));
        }
        if persistence_id(&r).is_some() {
            return Err(format!(
                "'{}' is a persistent volume: reserve its disk first",
                r.name
            ));
        }
        c.consumed.add_one(popped(&r));
        c.converted.add_one(r);
    }
    Ok(c)
}

/// UNRESERVE: each resource's top reservation is dynamic and is removed.
pub fn unreserve(resources: &[Resource]) -> Result<Conversion, String> {
    let list = normalized_all(resources)?;
    let mut c = Conversion::default();
    for r in list {
        if !is_dynamic_top(&r) {
            return Err(format!("'{}' is not dynamically reserved", r.name));
        }
        if persistence_id(&r).is_some() {
            return Err(format!(
                "'{}' is a persistent volume: destroy it before unreserving",
                r.name
            ));
        }
        c.converted.add_one(popped(&r));
        c.consumed.add_one(r);
    }
    Ok(c)
}

/// CREATE: persistent volumes on reserved disk.
pub fn create(volumes: &[Resource]) -> Result<Conversion, String> {
    let list = normalized_all(volumes)?;
    let mut c = Conversion::default();
    let mut ids = std::collections::BTreeSet::new();
    for v in list {
        let id = persistence_id(&v)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| format!("'{}' has no 'disk.persistence.id'", v.name))?;
        validate_volume_name(id, "persistence id")?;
        if !ids.insert(id.to_string()) {
            return Err(format!("persistence id '{id}' appears twice"));
        }
        if v.name != "disk" {
            return Err(format!(
                "'{}' cannot be a persistent volume (only disk)",
                v.name
            ));
        }
        let path = container_path(&v)
            .ok_or_else(|| format!("volume '{id}' has no 'disk.volume.container_path'"))?;
        validate_container_path(path)?;
        let mode = disk_field(&v, "volume")
            .and_then(|x| x.get("mode"))
            .and_then(Json::as_str)
            .unwrap_or("RW");
        if mode != "RW" {
            // As Mesos: a volume is written by the tasks that use it.
            return Err(format!(
                "volume '{id}' has mode '{mode}': persistent volumes must be 'RW'"
            ));
        }
        if v.reservations.is_empty() {
            return Err(format!(
                "volume '{id}' must be created on reserved disk (reserve it first)"
            ));
        }
        c.consumed.add_one(without_volume(&v));
        c.converted.add_one(v);
    }
    Ok(c)
}

/// DESTROY: persistent volumes back to plain reserved disk.
pub fn destroy(volumes: &[Resource]) -> Result<Conversion, String> {
    let list = normalized_all(volumes)?;
    let mut c = Conversion::default();
    for v in list {
        if persistence_id(&v).is_none() {
            return Err(format!("'{}' is not a persistent volume", v.name));
        }
        c.converted.add_one(without_volume(&v));
        c.consumed.add_one(v);
    }
    Ok(c)
}

/// A persistence id names a directory on the agent: one path component.
fn validate_volume_name(id: &str, what: &str) -> Result<(), String> {
    if id == "." || id == ".." || id.contains('/') || id.contains('\0') || id.contains('\\') {
        return Err(format!("{what} '{id}' must be a single path component"));
    }
    Ok(())
}

/// A volume's path in the sandbox: relative, inside it.
pub fn validate_container_path(path: &str) -> Result<(), String> {
    let p = std::path::Path::new(path);
    if path.is_empty()
        || p.is_absolute()
        || path.contains('\0')
        || p.components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "volume container path '{path}' must be a relative path inside the sandbox"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(v: Json) -> Resource {
        serde_json::from_value(v).unwrap()
    }

    fn dyn_res(name: &str, v: f64, role: &str) -> Resource {
        r(
            json!({"name": name, "type": "SCALAR", "scalar": {"value": v},
                 "reservations": [{"type": "DYNAMIC", "role": role, "principal": "ops"}]}),
        )
    }

    fn volume(id: &str, path: &str) -> Resource {
        let mut v = dyn_res("disk", 64.0, "db");
        v.disk = Some(
            json!({"persistence": {"id": id}, "volume": {"container_path": path, "mode": "RW"}}),
        );
        v
    }

    #[test]
    fn reserve_then_create_then_back_again_is_the_identity() {
        let total = Resources::parse("cpus:4;mem:1024;disk:1024", "*").unwrap();
        let res = reserve(
            &[dyn_res("cpus", 1.0, "db"), dyn_res("disk", 64.0, "db")],
            Some("db"),
        )
        .unwrap();
        let t1 = res.apply(&total).unwrap();
        assert_eq!(t1.scalar("cpus"), 4.0, "quantities do not change");
        assert_eq!(
            t1.usable_by("web").scalar("cpus"),
            3.0,
            "reserved is db's only"
        );
        let vol = create(&[volume("v1", "data")]).unwrap();
        let t2 = vol.apply(&t1).unwrap();
        assert_eq!(checkpointed(&t2).iter().count(), 2, "{t2:?}");
        assert!(t2.iter().any(|x| persistence_id(x) == Some("v1")));
        let t3 = destroy(&[volume("v1", "data")])
            .unwrap()
            .apply(&t2)
            .unwrap();
        let t4 = unreserve(&[dyn_res("cpus", 1.0, "db"), dyn_res("disk", 64.0, "db")])
            .unwrap()
            .apply(&t3)
            .unwrap();
        assert_eq!(t4, total);
        // Rebuilt from the static total and the checkpoint, as after a restart.
        let (rebuilt, dropped) = with_checkpointed(&total, checkpointed(&t2).as_slice());
        assert!(dropped.is_empty());
        assert!(
            rebuilt.contains(&t2) && t2.contains(&rebuilt),
            "{rebuilt:?} vs {t2:?}"
        );
    }

    #[test]
    fn bad_operations_are_refused_with_a_reason() {
        let total = Resources::parse("cpus:1;disk:10", "*").unwrap();
        let too_much = reserve(&[dyn_res("cpus", 2.0, "db")], None).unwrap();
        assert!(
            too_much
                .apply(&total)
                .unwrap_err()
                .contains("not available")
        );
        assert!(
            reserve(&[dyn_res("cpus", 1.0, "db")], Some("web"))
                .unwrap_err()
                .contains("role")
        );
        let plain = Resources::parse("cpus:1", "*").unwrap().into_vec();
        assert!(
            reserve(&plain, None)
                .unwrap_err()
                .contains("no reservation")
        );
        assert!(unreserve(&plain).unwrap_err().contains("not dynamically"));
        assert!(
            create(&[volume("../x", "data")])
                .unwrap_err()
                .contains("single path")
        );
        assert!(
            create(&[volume("v", "/etc")])
                .unwrap_err()
                .contains("relative")
        );
        assert!(
            create(&[volume("v", "a/../../b")])
                .unwrap_err()
                .contains("relative")
        );
        let mut unreserved_vol = volume("v", "data");
        unreserved_vol.reservations.clear();
        assert!(
            create(&[unreserved_vol])
                .unwrap_err()
                .contains("reserved disk")
        );
        assert!(destroy(&plain).unwrap_err().contains("not a persistent"));
        assert!(reserve(&[], None).is_err());
        let mut ro = volume("v", "data");
        ro.disk.as_mut().unwrap()["volume"]["mode"] = json!("RO");
        assert!(create(&[ro]).unwrap_err().contains("'RW'"));
        let many = vec![dyn_res("cpus", 0.001, "db"); MAX_OPERATION_RESOURCES + 1];
        assert!(reserve(&many, None).unwrap_err().contains("at most"));
        let wrong_source = Resources::parse("mem:1", "*").unwrap().into_vec();
        assert!(
            reserve_from(&wrong_source, &[dyn_res("cpus", 1.0, "db")], None)
                .unwrap_err()
                .contains("source")
        );
        let right = Resources::parse("cpus:1", "*").unwrap().into_vec();
        assert!(reserve_from(&right, &[dyn_res("cpus", 1.0, "db")], None).is_ok());
    }

    #[test]
    fn a_checkpoint_whose_base_is_gone_is_dropped() {
        let small = Resources::parse("cpus:1;disk:10", "*").unwrap();
        let (t, dropped) = with_checkpointed(&small, &[dyn_res("disk", 64.0, "db")]);
        assert_eq!(t, small);
        assert_eq!(dropped.len(), 1);
    }
}
