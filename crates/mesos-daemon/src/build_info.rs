//! Build facts reported by `/version`, GET_VERSION and the state endpoints
//! of both daemons, recorded by this crate's `build.rs` when it was built:
//! the UTC date and time, and the git commit and branch when built from a
//! checkout. One build script for both daemons, so the master and the
//! agent of one build report the same facts.

use serde_json::{Value, json};

pub const BUILD_DATE: &str = env!("MESOS_BUILD_DATE");
pub const BUILD_TIME: f64 = parse_secs(env!("MESOS_BUILD_TIME")) as f64;
pub const BUILD_USER: &str = "rust";
pub const GIT_SHA: Option<&str> = option_env!("MESOS_GIT_SHA");
pub const GIT_BRANCH: Option<&str> = option_env!("MESOS_GIT_BRANCH");

/// Decimal seconds (what `build.rs` writes), at compile time.
const fn parse_secs(s: &str) -> u64 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0u64;
    while i < b.len() {
        n = n * 10 + (b[i] - b'0') as u64;
        i += 1;
    }
    n
}

/// `/version` and `GetVersion.version_info`: `version`, `build_date`,
/// `build_time`, `build_user`, and `git_sha`/`git_branch` when known.
pub fn version() -> Value {
    let mut v = json!({
        "version": mesos_types::MESOS_VERSION,
        "build_date": BUILD_DATE,
        "build_time": BUILD_TIME,
        "build_user": BUILD_USER,
    });
    for (k, x) in [("git_sha", GIT_SHA), ("git_branch", GIT_BRANCH)] {
        if let (Some(x), Some(o)) = (x, v.as_object_mut()) {
            o.insert(k.into(), json!(x));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn build_time_is_real() {
        // After 2020-01-01: recorded by build.rs, not a constant.
        let v = super::version();
        assert!(v["build_time"].as_f64().unwrap() > 1_577_836_800.0);
        assert_eq!(
            v["build_date"].as_str().unwrap().len(),
            "YYYY-MM-DD HH:MM:SS".len()
        );
    }
}
