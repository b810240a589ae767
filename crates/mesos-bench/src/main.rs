//! `mesos-bench`: runs one benchmark scenario and prints one line per
//! figure, `name value unit (reference value unit, ratio)`, optionally also
//! as JSON (`--json=PATH`). The scenarios live in the library
//! ([`mesos_bench::scenarios`]); this binary parses flags, raises the
//! descriptor limit and dispatches.

use clap::Parser;
use mesos_bench::scenarios::{self, Args};

// The master allocates and frees many small objects per request (JSON,
// resources, ids); glibc malloc spent ~20% of the master's CPU in
// consolidation under load (perf, P3/P4). mimalloc is the allocator of
// choice for that pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let (soft, hard) = mesos_bench::sys::raise_nofile_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.scenario == "master" {
        return runtime.block_on(scenarios::serve_master(&args));
    }
    if args.scenario == "static" {
        return runtime.block_on(scenarios::serve_static(&args));
    }
    eprintln!(
        "RLIMIT_NOFILE {soft}/{hard}; local ports {}",
        mesos_bench::sys::ephemeral_ports().unwrap_or(0)
    );
    let figures = runtime.block_on(scenarios::run(&args))?;
    for f in &figures {
        println!("{}", f.line());
    }
    if let Some(path) = &args.json {
        let v: Vec<serde_json::Value> = figures.iter().map(|f| f.to_json()).collect();
        std::fs::write(path, serde_json::to_string_pretty(&v)?)?;
    }
    Ok(())
}
