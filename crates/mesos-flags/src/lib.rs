//! Mesos flag conventions on top of clap.
//!
//! clap parses the final argv; this crate builds that argv from the places
//! Mesos reads flags from, lowest precedence first:
//! 1. the packaging directory (`/etc/mesos-master/<flag>` files, `?flag` /
//!    `?no-flag` switches, agent `attributes/` and `resources/` subdirectories,
//!    and `/etc/mesos/zk` for `--zk`/`--master`),
//! 2. `MESOS_<FLAG>` environment variables (unknown ones are ignored, since
//!    executors inherit many `MESOS_*` variables),
//! 3. the command line.
//!
//! `--no-flag` becomes `--flag=false` and a value `file:///path` is replaced by
//! the file's contents. The caller's parser must set
//! `#[command(args_override_self = true, rename_all = "snake_case")]` so the
//! last occurrence wins and flags keep Mesos's `snake_case` names.
//! Sources are passed in explicitly so tests never touch the process
//! environment.

use clap::{CommandFactory, FromArgMatches};
use std::collections::BTreeMap;
use std::path::PathBuf;

mod duration;
pub use duration::Duration;

#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    #[error("{0}")]
    Clap(#[from] clap::Error),
    #[error("failed to read flag '{flag}' from '{path}': {source}")]
    Read {
        flag: String,
        path: String,
        source: std::io::Error,
    },
}

/// Where flags come from. Build with [`FlagSources::from_process`] in a
/// binary, or by hand in tests.
#[derive(Debug, Clone, Default)]
pub struct FlagSources {
    /// Command-line arguments without the program name.
    pub args: Vec<String>,
    /// Environment variables (all of them; only `MESOS_*` ones are used).
    pub env: Vec<(String, String)>,
    /// Packaging directory such as `/etc/mesos-master`; skipped if absent.
    pub config_dir: Option<PathBuf>,
    /// `/etc/mesos/zk`-style file whose content feeds `zk_flag`.
    pub zk_file: Option<(PathBuf, &'static str)>,
}

impl FlagSources {
    /// The real process argv and environment. `MESOS_CONFIG_DIR` (if set)
    /// overrides `default_config_dir`, so tests and unusual layouts can move it.
    pub fn from_process(default_config_dir: &str, zk_flag: &'static str) -> FlagSources {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let config_dir = env
            .iter()
            .find(|(k, _)| k == "MESOS_CONFIG_DIR")
            .map(|(_, v)| v.clone());
        let base = config_dir
            .clone()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(default_config_dir));
        let zk = base
            .parent()
            .map(|p| p.join("mesos/zk"))
            .unwrap_or_else(|| PathBuf::from("/etc/mesos/zk"));
        FlagSources {
            args: std::env::args().skip(1).collect(),
            env,
            config_dir: Some(base),
            zk_file: Some((zk, zk_flag)),
        }
    }
}

/// Parsed flags plus the effective value of every flag as a string (what
/// `/flags` and `state.flags` report).
#[derive(Debug, Clone)]
pub struct Loaded<P> {
    pub flags: P,
    pub effective: BTreeMap<String, String>,
}

/// Loads `P` from `sources`.
pub fn load<P: CommandFactory + FromArgMatches>(
    program: &str,
    sources: &FlagSources,
) -> Result<Loaded<P>, FlagError> {
    let cmd = P::command();
    let mut known: BTreeMap<String, bool> = BTreeMap::new(); // name -> is boolean switch
    for a in cmd.get_arguments() {
        if let Some(l) = a.get_long() {
            let is_bool = a
                .get_num_args()
                .map(|r| r.min_values() == 0)
                .unwrap_or(false);
            known.insert(l.to_string(), is_bool);
            for alias in a.get_all_aliases().unwrap_or_default() {
                known.insert(alias.to_string(), is_bool);
            }
        }
    }

    let mut raw: Vec<String> = Vec::new();
    if let Some((path, flag)) = &sources.zk_file
        && known.contains_key(*flag)
        && let Ok(v) = std::fs::read_to_string(path)
        && !v.trim().is_empty()
    {
        raw.push(format!("--{flag}={}", v.trim()));
    }
    if let Some(dir) = &sources.config_dir {
        raw.extend(read_config_dir(dir, &known)?);
    }
    for (k, v) in &sources.env {
        if let Some(name) = k.strip_prefix("MESOS_") {
            let name = name.to_ascii_lowercase();
            if known.contains_key(&name) {
                raw.push(format!("--{name}={v}"));
            }
        }
    }
    raw.extend(sources.args.iter().cloned());

    let mut args = Vec::with_capacity(raw.len());
    for a in raw {
        args.push(rewrite(a, &known)?);
    }
    let mut argv = vec![program.to_string()];
    argv.extend(args.iter().cloned());
    let matches = cmd.try_get_matches_from(&argv)?;
    let flags = P::from_arg_matches(&matches)?;

    let mut effective = BTreeMap::new();
    for a in P::command().get_arguments() {
        if let (Some(l), Some(d)) = (a.get_long(), a.get_default_values().first()) {
            effective.insert(l.to_string(), d.to_string_lossy().into_owned());
        }
    }
    for a in &args {
        if let Some(body) = a.strip_prefix("--") {
            let (k, v) = body.split_once('=').unwrap_or((body, "true"));
            effective.insert(k.to_string(), v.to_string());
        }
    }
    effective.retain(|k, _| k != "help" && k != "version");
    Ok(Loaded { flags, effective })
}

/// `--no-x` -> `--x=false` for switches; `--x=file:///p` -> the file's content.
fn rewrite(arg: String, known: &BTreeMap<String, bool>) -> Result<String, FlagError> {
    let Some(body) = arg.strip_prefix("--") else {
        return Ok(arg);
    };
    let (name, value) = match body.split_once('=') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (body.to_string(), None),
    };
    if value.is_none() {
        if let Some(base) = name.strip_prefix("no-")
            && known.get(base) == Some(&true)
        {
            return Ok(format!("--{base}=false"));
        }
        return Ok(arg);
    }
    let value = value.unwrap_or_default();
    if let Some(path) = value.strip_prefix("file://") {
        let content = std::fs::read_to_string(path).map_err(|e| FlagError::Read {
            flag: name.clone(),
            path: path.to_string(),
            source: e,
        })?;
        return Ok(format!(
            "--{name}={}",
            content.trim_end_matches(['\n', '\r'])
        ));
    }
    Ok(format!("--{name}={value}"))
}

/// Every regular file in the packaging directory is a flag; the agent's
/// `attributes/` and `resources/` subdirectories are joined with `;`.
fn read_config_dir(
    dir: &std::path::Path,
    known: &BTreeMap<String, bool>,
) -> Result<Vec<String>, FlagError> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let read = |p: &std::path::Path, flag: &str| {
            std::fs::read_to_string(p).map_err(|source| FlagError::Read {
                flag: flag.to_string(),
                path: p.display().to_string(),
                source,
            })
        };
        if path.is_dir() {
            if (name == "attributes" || name == "resources") && known.contains_key(&name) {
                let mut parts = Vec::new();
                let mut subs: Vec<_> = std::fs::read_dir(&path)
                    .into_iter()
                    .flatten()
                    .filter_map(Result::ok)
                    .collect();
                subs.sort_by_key(|e| e.file_name());
                for s in subs {
                    let v = read(&s.path(), &name)?;
                    parts.push(format!("{}:{}", s.file_name().to_string_lossy(), v.trim()));
                }
                if !parts.is_empty() {
                    out.push(format!("--{name}={}", parts.join(";")));
                }
            }
            continue;
        }
        if let Some(switch) = name.strip_prefix('?') {
            out.push(format!("--{switch}"));
        } else {
            out.push(format!("--{name}={}", read(&path, &name)?.trim()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    #[command(args_override_self = true, rename_all = "snake_case")]
    struct Flags {
        #[arg(long, default_value_t = 5050)]
        port: u16,
        #[arg(long)]
        work_dir: Option<String>,
        #[arg(long)]
        zk: Option<String>,
        #[arg(long)]
        attributes: Option<String>,
        #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
        checkpoint: bool,
        #[arg(long, default_value = "1secs")]
        allocation_interval: Duration,
    }

    fn src(args: &[&str], env: &[(&str, &str)]) -> FlagSources {
        FlagSources {
            args: args.iter().map(|s| s.to_string()).collect(),
            env: env
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn precedence_env_then_argv() {
        let l: Loaded<Flags> = load(
            "m",
            &src(
                &["--port=6000"],
                &[
                    ("MESOS_PORT", "7000"),
                    ("MESOS_WORK_DIR", "/w"),
                    ("MESOS_UNRELATED", "x"),
                ],
            ),
        )
        .unwrap();
        assert_eq!(l.flags.port, 6000);
        assert_eq!(l.flags.work_dir.as_deref(), Some("/w"));
        assert_eq!(l.effective["port"], "6000");
        assert_eq!(l.effective["allocation_interval"], "1secs");
    }

    #[test]
    fn switches_and_no_prefix() {
        let l: Loaded<Flags> = load("m", &src(&["--checkpoint"], &[])).unwrap();
        assert!(l.flags.checkpoint);
        let l: Loaded<Flags> = load("m", &src(&["--checkpoint", "--no-checkpoint"], &[])).unwrap();
        assert!(!l.flags.checkpoint);
    }

    #[test]
    fn unknown_flag_is_named() {
        let e = load::<Flags>("m", &src(&["--bogus_flag=1"], &[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--bogus_flag"), "{e}");
    }

    #[test]
    fn config_dir_files_and_file_values() {
        let d = tempfile::tempdir().unwrap();
        let etc = d.path().join("mesos-slave");
        std::fs::create_dir_all(etc.join("attributes")).unwrap();
        std::fs::write(etc.join("port"), "5999\n").unwrap();
        std::fs::write(etc.join("?checkpoint"), "").unwrap();
        std::fs::write(etc.join("attributes/rack"), "r1\n").unwrap();
        std::fs::write(etc.join("attributes/zone"), "z2").unwrap();
        std::fs::create_dir_all(d.path().join("mesos")).unwrap();
        std::fs::write(d.path().join("mesos/zk"), "zk://h:2181/mesos\n").unwrap();
        let wd = d.path().join("wd");
        std::fs::write(&wd, "/var/lib/x\n").unwrap();
        let s = FlagSources {
            args: vec![format!("--work_dir=file://{}", wd.display())],
            env: vec![],
            config_dir: Some(etc),
            zk_file: Some((d.path().join("mesos/zk"), "zk")),
        };
        let l: Loaded<Flags> = load("a", &s).unwrap();
        assert_eq!(l.flags.port, 5999);
        assert!(l.flags.checkpoint);
        assert_eq!(l.flags.attributes.as_deref(), Some("rack:r1;zone:z2"));
        assert_eq!(l.flags.zk.as_deref(), Some("zk://h:2181/mesos"));
        assert_eq!(l.flags.work_dir.as_deref(), Some("/var/lib/x"));
    }
}
