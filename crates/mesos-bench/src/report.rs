//! Figures as the benchmarks print them: one line each,
//! `name value unit (reference value unit, ratio)`, and the same list as JSON.

use serde_json::{Value as Json, json};

/// One measured figure, optionally next to a reference measured in the same run.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub reference: Option<(f64, String)>,
}

impl Figure {
    pub fn new(name: impl Into<String>, value: f64, unit: impl Into<String>) -> Figure {
        Figure {
            name: name.into(),
            value,
            unit: unit.into(),
            reference: None,
        }
    }

    /// Adds the reference the figure is compared with (ratio = value / reference).
    pub fn against(mut self, value: f64, unit: impl Into<String>) -> Figure {
        self.reference = Some((value, unit.into()));
        self
    }

    pub fn line(&self) -> String {
        match &self.reference {
            Some((r, u)) => format!(
                "{} {:.1} {} (reference {:.1} {}, ratio {:.2})",
                self.name,
                self.value,
                self.unit,
                r,
                u,
                if *r != 0.0 { self.value / r } else { 0.0 }
            ),
            None => format!("{} {:.1} {}", self.name, self.value, self.unit),
        }
    }

    pub fn to_json(&self) -> Json {
        json!({
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "reference": self.reference.as_ref().map(|r| r.0),
            "reference_unit": self.reference.as_ref().map(|r| r.1.clone()),
        })
    }
}

/// The `p`-quantile (0..=1) of an ascending slice, nearest rank; 0 if empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// p50 and p99 figures (`<prefix>_p50`, `<prefix>_p99`) of unsorted samples.
pub fn quantile_figures(prefix: &str, mut samples: Vec<f64>, unit: &str) -> Vec<Figure> {
    samples.sort_by(f64::total_cmp);
    vec![
        Figure::new(format!("{prefix}_p50"), percentile(&samples, 0.5), unit),
        Figure::new(format!("{prefix}_p99"), percentile(&samples, 0.99), unit),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format_with_and_without_reference() {
        assert_eq!(Figure::new("x", 1.25, "ms").line(), "x 1.2 ms");
        let f = Figure::new("rate", 50.0, "tasks/s").against(100.0, "spawns/s");
        assert_eq!(
            f.line(),
            "rate 50.0 tasks/s (reference 100.0 spawns/s, ratio 0.50)"
        );
        assert_eq!(f.to_json()["reference_unit"], "spawns/s");
    }

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
