//! `GET /metrics` (our addition, on every daemon): a `/metrics/snapshot`
//! in the Prometheus text exposition format 0.0.4, so a Prometheus server
//! scrapes a daemon without an exporter in between.
//!
//! Every numeric metric becomes one sample: the name gets a `mesos_`
//! prefix and each character Prometheus does not allow in a name (`/`,
//! `-`, `.`, ...) becomes `_` (`slave/tasks_running` ->
//! `mesos_slave_tasks_running`). Mesos does not say which metrics are
//! counters, so each is typed `gauge`, which Prometheus accepts for both
//! (`untyped` would lose nothing either, but dashboards handle gauges
//! better). Non-numeric values are skipped.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// `mesos_` + the name with every character outside `[a-zA-Z0-9_:]` as `_`.
pub fn metric_name(key: &str) -> String {
    let mut name = String::with_capacity(key.len() + 6);
    name.push_str("mesos_");
    name.extend(key.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        }
    }));
    name
}

/// A sample value as Prometheus writes floats (`+Inf`, `-Inf`, `NaN`).
fn sample(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// The text exposition of `snapshot`, sorted by name. Two keys that map
/// to the same name (`a/b` and `a_b`) keep the first in key order, as a
/// name may appear only once.
pub fn render(snapshot: &Map<String, Value>) -> String {
    let mut by_name: BTreeMap<String, f64> = BTreeMap::new();
    for (k, v) in snapshot {
        let x = match v {
            Value::Number(n) => n.as_f64(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        };
        if let Some(x) = x {
            by_name.entry(metric_name(k)).or_insert(x);
        }
    }
    let mut out = String::with_capacity(by_name.len() * 64);
    for (name, v) in by_name {
        let _ = writeln!(out, "# TYPE {name} gauge\n{name} {}", sample(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_values_and_types() {
        let snapshot = json!({
            "slave/tasks_running": 2.0,
            "master/frameworks/web-1.x/messages": 1,
            "system/load_1min": 0.25,
            "not/a/number": "x",
            "inf": f64::MAX,
        });
        let text = render(snapshot.as_object().unwrap());
        assert!(
            text.contains("# TYPE mesos_slave_tasks_running gauge\nmesos_slave_tasks_running 2\n")
        );
        assert!(text.contains("mesos_master_frameworks_web_1_x_messages 1\n"));
        assert!(text.contains("mesos_system_load_1min 0.25\n"));
        assert!(!text.contains("not_a_number"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.split_once(' ').unwrap();
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
        assert_eq!(sample(f64::INFINITY), "+Inf");
        assert_eq!(sample(f64::NAN), "NaN");
    }
}
