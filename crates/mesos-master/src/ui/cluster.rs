//! The cluster-wide pages: Roles (weights, quota, allocation), Offers and
//! Maintenance (schedule and machine status).

use super::{KINDS, Outcome, Request, agent_href, amount, framework_href, id_link};
use crate::master::{FrameworkEntry, Master};
use serde_json::Value as Json;
use std::cmp::Ordering;
use webui::Html;
use webui::blocks::{heading, join};
use webui::format::utc;
use webui::table::{Column, TableQuery, TableSpec, cmp_f64, contains, page_of};

const ROLE_COLS: [Column; 7] = [
    Column::sortable("Role"),
    Column::sortable("Weight"),
    Column::sortable("Frameworks"),
    Column::plain("Allocated"),
    Column::plain("Offered"),
    Column::plain("Reserved"),
    Column::plain("Quota (guarantee / limit / consumed)"),
];

/// `cpus 1, mem 128 MB` from a `{"cpus":1,"mem":128}` object.
fn res_json(v: Option<&Json>) -> String {
    let Some(o) = v.and_then(Json::as_object) else {
        return "-".into();
    };
    let parts: Vec<String> = KINDS
        .iter()
        .filter_map(|k| {
            o.get(*k)
                .and_then(Json::as_f64)
                .filter(|x| *x > 0.0)
                .map(|x| format!("{k} {}", amount(k, x)))
        })
        .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

/// `/ui/roles` (what `/master/roles` says).
pub(crate) fn roles(m: &Master, req: &Request) -> Outcome {
    let json: Json = serde_json::from_slice(&crate::state_json::RolesSnapshot::take(m).write())
        .unwrap_or(Json::Null);
    let roles: Vec<Json> = json
        .get("roles")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let name = |r: &Json| {
        r.get("name")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string()
    };
    let fw_count = |r: &Json| {
        r.get("frameworks")
            .and_then(Json::as_array)
            .map_or(0, Vec::len)
    };
    let weight = |r: &Json| r.get("weight").and_then(Json::as_f64).unwrap_or(1.0);
    let q = TableQuery::parse("roles", &req.params, &ROLE_COLS, (0, false));
    let paged = page_of(
        roles,
        &q,
        |r, s| contains(&name(r), s),
        |a, b, col| {
            let o = match col {
                1 => cmp_f64(weight(a), weight(b)),
                2 => fw_count(a).cmp(&fw_count(b)),
                _ => Ordering::Equal,
            };
            o.then_with(|| name(a).cmp(&name(b)))
        },
    );
    let table = paged.render(
        &TableSpec {
            id: "roles",
            caption: "Roles",
            columns: &ROLE_COLS,
            empty: "No roles.",
        },
        &q,
        &req.path,
        &req.params,
        |r| {
            let quota = r.get("quota");
            let quota_text = match quota {
                Some(qt) => format!(
                    "{} / {} / {}",
                    res_json(qt.get("guarantee")),
                    res_json(qt.get("limit")),
                    res_json(qt.get("consumed"))
                ),
                None => "-".into(),
            };
            vec![
                Html::text(&name(r)),
                Html::text(&webui::format::number(weight(r))),
                Html::text(&fw_count(r).to_string()),
                Html::text(&res_json(r.get("allocated"))),
                Html::text(&res_json(r.get("offered"))),
                Html::text(&res_json(r.get("reserved"))),
                Html::text(&quota_text),
            ]
        },
    );
    Outcome::page("Roles", Some("Roles"), join([heading("Roles", &[]), table]))
}

const OFFER_COLS: [Column; 8] = [
    Column::sortable("ID"),
    Column::sortable("Role"),
    Column::sortable("Framework"),
    Column::sortable("Host"),
    Column::sortable("CPUs"),
    Column::sortable("GPUs"),
    Column::sortable("Mem"),
    Column::sortable("Disk"),
];

/// Outstanding offers, all or one framework's.
pub(crate) fn offer_table(m: &Master, only: Option<&FrameworkEntry>, req: &Request) -> Html {
    let offers: Vec<_> = match only {
        Some(f) => f.offers.iter().filter_map(|id| m.offers.get(id)).collect(),
        None => m.offers.values().collect(),
    };
    let host = |o: &crate::master::OfferEntry| {
        m.agents
            .get(&o.agent_id)
            .map(|a| a.info.hostname.as_str())
            .unwrap_or("")
    };
    let fname = |o: &crate::master::OfferEntry| {
        m.frameworks
            .get(&o.framework_id)
            .map(|f| f.info.name.as_str())
            .unwrap_or("")
    };
    let q = TableQuery::parse("offers", &req.params, &OFFER_COLS, (0, false));
    let paged = page_of(
        offers,
        &q,
        |o, s| {
            contains(&o.offer.id.value, s)
                || contains(&o.role, s)
                || contains(fname(o), s)
                || contains(host(o), s)
        },
        |a, b, col| {
            let o = match col {
                1 => a.role.cmp(&b.role),
                2 => fname(a).cmp(fname(b)),
                3 => host(a).cmp(host(b)),
                4..=7 => cmp_f64(
                    a.resources.scalar(KINDS[col - 4]),
                    b.resources.scalar(KINDS[col - 4]),
                ),
                _ => Ordering::Equal,
            };
            o.then_with(|| a.offer.id.value.cmp(&b.offer.id.value))
        },
    );
    paged.render(
        &TableSpec {
            id: "offers",
            caption: "Outstanding Offers",
            columns: &OFFER_COLS,
            empty: "No outstanding offers.",
        },
        &q,
        &req.path,
        &req.params,
        |o| {
            let mut row = vec![
                Html::text(&o.offer.id.value),
                Html::text(&o.role),
                id_link(&framework_href(&o.framework_id.value), fname(o)),
                Html::link(&agent_href(&o.agent_id.value), host(o)),
            ];
            for k in KINDS {
                row.push(Html::text(&amount(k, o.resources.scalar(k))));
            }
            row
        },
    )
}

/// `/ui/offers`.
pub(crate) fn offers(m: &Master, req: &Request) -> Outcome {
    let body = join([heading("Offers", &[]), offer_table(m, None, req)]);
    Outcome::page("Offers", Some("Offers"), body)
}

fn machine(id: &mesos_types::policy::MachineID) -> String {
    match (&id.hostname, &id.ip) {
        (Some(h), Some(ip)) => format!("{h} ({ip})"),
        (Some(h), None) => h.clone(),
        (None, Some(ip)) => ip.clone(),
        (None, None) => "-".into(),
    }
}

/// `/ui/maintenance`: the schedule's windows and the machines' modes.
pub(crate) fn maintenance(m: &Master, _req: &Request) -> Outcome {
    let rec = &m.maintenance.record;
    let mut rows = String::new();
    for w in &rec.schedule.windows {
        let start = w.unavailability.start.nanoseconds as f64 / 1e9;
        let end = w
            .unavailability
            .duration
            .as_ref()
            .map(|d| utc(start + d.nanoseconds as f64 / 1e9))
            .unwrap_or_else(|| "(open)".into());
        let hosts: Vec<String> = w.machine_ids.iter().map(machine).collect();
        let mode = |id: &mesos_types::policy::MachineID| {
            if rec.down.contains(id) {
                "DOWN"
            } else {
                "DRAINING"
            }
        };
        let modes: Vec<String> = w
            .machine_ids
            .iter()
            .map(|id| format!("{}: {}", machine(id), mode(id)))
            .collect();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            Html::text(&utc(start)),
            Html::text(&end),
            Html::text(&hosts.join(", ")),
            Html::text(&modes.join(", ")),
        ));
    }
    if rows.is_empty() {
        rows = "<tr class=\"ui-empty\"><td colspan=\"4\">No maintenance is scheduled.</td></tr>"
            .into();
    }
    let table = Html::trusted(format!(
        "<section class=\"ui-table\"><div class=\"ui-table-head\"><h2>Maintenance Schedule <span class=\"ui-count\">{}</span></h2></div>\
         <div class=\"ui-scroll\"><table><thead><tr><th>Begin (UTC)</th><th>End (UTC)</th><th>Hosts</th><th>Mode</th></tr></thead>\
         <tbody>{rows}</tbody></table></div></section>",
        rec.schedule.windows.len()
    ));
    Outcome::page(
        "Maintenance",
        Some("Maintenance"),
        join([heading("Maintenance", &[]), table]),
    )
}
