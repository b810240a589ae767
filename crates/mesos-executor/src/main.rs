//! `mesos-executor`: the command executor binary. Configuration comes from the
//! environment the agent sets (spec §4.1); `--flag=value` arguments such as
//! `--launcher_dir` are accepted for compatibility and ignored.

use mesos_executor::config::Config;
use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("Usage: mesos-executor [--launcher_dir=<dir>]");
        println!(
            "Runs one Mesos command task; configured through the MESOS_* environment set by the agent."
        );
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_vars(std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mesos-executor: {e}");
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mesos-executor: failed to start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(mesos_executor::driver::run(config));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
