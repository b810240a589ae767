//! `mesos`: the operator CLI (`mesos agent list`, `mesos task log T`, ...).
//! Everything but the process itself (arguments, `MESOS_MASTER`, the
//! terminal, the exit code) lives in `mesos_cli::mesos`.

use clap::Parser;
use mesos_cli::mesos::{CliError, Context, args::Cli, run, term};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line, like every other error of this tool.
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("error");
            eprintln!("{first} (see 'mesos --help')");
            return ExitCode::from(1);
        }
    };
    let ctx = Context {
        master_env: std::env::var("MESOS_MASTER").ok(),
        width: term::stdout_width(),
        leader_timeout: None,
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("mesos: failed to start the runtime");
        return ExitCode::from(1);
    };
    let mut out = std::io::stdout();
    match runtime.block_on(run(cli, &ctx, &mut out)) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`mesos task list | head`): nothing to say.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = out.flush();
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
