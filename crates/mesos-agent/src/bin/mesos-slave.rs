//! `mesos-slave`: the pre-1.0 name of `mesos-agent`, same program.

fn main() -> std::process::ExitCode {
    mesos_agent::cli::main()
}
