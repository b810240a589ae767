//! `mesos.v1.Value` payloads and the interval/set arithmetic behind them.
//!
//! Scalars are compared and combined in fixed point with three decimal
//! places, as Mesos does (`src/common/values.cpp`), so `0.1 + 0.2 == 0.3`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Scalar {
    #[serde(deserialize_with = "crate::json::de::scalar")]
    pub value: f64,
}

/// The largest scalar a resource may have: 10^12, far beyond any machine
/// (a trillion cpus, or an exabyte of memory or disk in MB) and small enough
/// that a sum of thousands of them stays exact in the fixed-point `i64`
/// thousandths all arithmetic uses (whose own limit is about 9.2 * 10^15).
/// Sums that still go beyond it saturate instead of wrapping.
pub const MAX_SCALAR: f64 = 1e12;

/// Converts a scalar to thousandths, the unit all arithmetic is done in.
pub fn to_milli(v: f64) -> i64 {
    (v * 1000.0).round() as i64
}

pub fn from_milli(m: i64) -> f64 {
    m as f64 / 1000.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Range {
    #[serde(deserialize_with = "crate::json::de::scalar")]
    pub begin: u64,
    #[serde(deserialize_with = "crate::json::de::scalar")]
    pub end: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Ranges {
    #[serde(default)]
    pub range: Vec<Range>,
}

impl Ranges {
    /// Sorted, non-overlapping, adjacent intervals merged; inverted ones dropped.
    pub fn normalized(mut v: Vec<Range>) -> Ranges {
        v.retain(|r| r.begin <= r.end);
        v.sort();
        let mut out: Vec<Range> = Vec::with_capacity(v.len());
        for r in v {
            match out.last_mut() {
                Some(last) if r.begin <= last.end.saturating_add(1) => {
                    last.end = last.end.max(r.end);
                }
                _ => out.push(r),
            }
        }
        Ranges { range: out }
    }

    pub fn add(&self, other: &Ranges) -> Ranges {
        let mut v = self.range.clone();
        v.extend_from_slice(&other.range);
        Ranges::normalized(v)
    }

    pub fn subtract(&self, other: &Ranges) -> Ranges {
        let mut cur = Ranges::normalized(self.range.clone()).range;
        for cut in Ranges::normalized(other.range.clone()).range {
            let mut next = Vec::with_capacity(cur.len() + 1);
            for r in cur {
                if cut.end < r.begin || cut.begin > r.end {
                    next.push(r);
                    continue;
                }
                if cut.begin > r.begin {
                    next.push(Range {
                        begin: r.begin,
                        end: cut.begin - 1,
                    });
                }
                if cut.end < r.end {
                    next.push(Range {
                        begin: cut.end + 1,
                        end: r.end,
                    });
                }
            }
            cur = next;
        }
        Ranges { range: cur }
    }

    pub fn contains(&self, other: &Ranges) -> bool {
        let mine = Ranges::normalized(self.range.clone()).range;
        Ranges::normalized(other.range.clone())
            .range
            .iter()
            .all(|o| mine.iter().any(|m| m.begin <= o.begin && o.end <= m.end))
    }

    pub fn is_empty(&self) -> bool {
        self.range.iter().all(|r| r.begin > r.end)
    }

    /// Number of values covered (saturating).
    pub fn count(&self) -> u64 {
        self.range
            .iter()
            .map(|r| r.end.saturating_sub(r.begin).saturating_add(1))
            .fold(0u64, |a, b| a.saturating_add(b))
    }

    /// `[31000-32000, 33000-34000]`, the legacy endpoints' rendering.
    pub fn render(&self) -> String {
        let parts: Vec<String> = self
            .range
            .iter()
            .map(|r| format!("{}-{}", r.begin, r.end))
            .collect();
        format!("[{}]", parts.join(", "))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Set {
    #[serde(default)]
    pub item: Vec<String>,
}

impl Set {
    pub fn to_set(&self) -> BTreeSet<String> {
        self.item.iter().cloned().collect()
    }
    pub fn from_set(s: BTreeSet<String>) -> Set {
        Set {
            item: s.into_iter().collect(),
        }
    }
    pub fn render(&self) -> String {
        format!("{{{}}}", self.item.join(", "))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Text {
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(b: u64, e: u64) -> Range {
        Range { begin: b, end: e }
    }

    #[test]
    fn ranges_merge_and_subtract() {
        let a = Ranges::normalized(vec![r(5, 10), r(1, 3), r(4, 4)]);
        assert_eq!(a.range, vec![r(1, 10)]);
        let b = a.subtract(&Ranges {
            range: vec![r(3, 4)],
        });
        assert_eq!(b.range, vec![r(1, 2), r(5, 10)]);
        assert!(a.contains(&b));
        assert!(!b.contains(&a));
        assert_eq!(b.render(), "[1-2, 5-10]");
    }

    proptest! {
        #[test]
        fn ranges_add_then_subtract_roundtrips(
            xs in proptest::collection::vec((0u64..200, 0u64..20), 0..8),
            ys in proptest::collection::vec((300u64..500, 0u64..20), 0..8),
        ) {
            let a = Ranges::normalized(xs.iter().map(|&(b, l)| r(b, b + l)).collect());
            let b = Ranges::normalized(ys.iter().map(|&(b, l)| r(b, b + l)).collect());
            // Disjoint by construction, so (a + b) - b == a.
            let sum = a.add(&b);
            prop_assert!(sum.contains(&a) && sum.contains(&b));
            prop_assert_eq!(sum.subtract(&b), a.clone());
            prop_assert_eq!(sum.count(), a.count() + b.count());
        }

        #[test]
        fn scalar_milli_roundtrip(m in -1_000_000_000i64..1_000_000_000) {
            prop_assert_eq!(to_milli(from_milli(m)), m);
        }
    }
}
