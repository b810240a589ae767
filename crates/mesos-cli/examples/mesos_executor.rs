//! The command executor, built as an example of this crate so the `mesos`
//! CLI's integration tests can run real command tasks on an in-process
//! agent (`--launcher_dir` points at the examples directory) without
//! building the workspace's binaries first. Same as `mesos-executor`'s
//! own `main`.

use mesos_executor::config::Config;
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match Config::from_vars(std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mesos-executor: {e}");
            return ExitCode::from(1);
        }
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("mesos-executor: failed to start the runtime");
        return ExitCode::from(1);
    };
    let code = runtime.block_on(mesos_executor::driver::run(config));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
