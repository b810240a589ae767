//! Records the build's facts for `/version` and `/master/state`: the UTC
//! time of this build (`MESOS_BUILD_TIME`, epoch seconds, and
//! `MESOS_BUILD_DATE`, `YYYY-MM-DD HH:MM:SS`), and the git commit and
//! branch when the source is a git checkout (`MESOS_GIT_SHA`,
//! `MESOS_GIT_BRANCH`; left unset otherwise).
//!
//! Cargo runs this once per build of the crate: again whenever a file of
//! the crate or the checked-out commit changes. It lives in `mesos-daemon`
//! so that the master and the agent of one build report the same facts.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.toml");
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    println!("cargo:rustc-env=MESOS_BUILD_TIME={secs}");
    println!("cargo:rustc-env=MESOS_BUILD_DATE={}", utc_date(secs));
    if let Some(sha) = git(&["rev-parse", "HEAD"]).filter(|s| s.len() == 40) {
        println!("cargo:rustc-env=MESOS_GIT_SHA={sha}");
        // A new commit or checkout reruns this script.
        for path in ["HEAD", "logs/HEAD"] {
            // (A missing file would rerun it on every build.)
            if let Some(p) =
                git(&["rev-parse", "--git-path", path]).filter(|p| std::path::Path::new(p).exists())
            {
                println!("cargo:rerun-if-changed={p}");
            }
        }
    }
    if let Some(branch) =
        git(&["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| !b.is_empty() && b != "HEAD")
    {
        println!("cargo:rustc-env=MESOS_GIT_BRANCH={branch}");
    }
}

/// `git args` in this crate's directory, trimmed; `None` if git is missing
/// or fails (not a checkout).
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty() && !s.contains(char::is_whitespace)).then_some(s)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of epoch seconds (Howard Hinnant's
/// civil-from-days).
fn utc_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
