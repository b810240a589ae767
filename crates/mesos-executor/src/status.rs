//! How a finished command is described and which terminal state it maps to.
//!
//! Mesos words exit statuses with `WSTRINGIFY` (src/common/status_utils.hpp):
//! `exited with status 3`, `terminated with signal Killed`, using the C
//! library's `strsignal` text. Schedulers and tests match on these strings,
//! so the glibc descriptions are reproduced here verbatim.

use mesos_types::TaskState;

/// How the task's main process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// Normal exit with this code.
    Exited(i32),
    /// Killed by `signal`.
    Signaled { signal: i32, core_dumped: bool },
    /// The status could not be obtained.
    Unknown,
}

impl Termination {
    /// Converts a `std` exit status (as returned by `wait`).
    pub fn from_exit_status(status: std::process::ExitStatus) -> Termination {
        use std::os::unix::process::ExitStatusExt;
        if let Some(code) = status.code() {
            Termination::Exited(code)
        } else if let Some(signal) = status.signal() {
            Termination::Signaled {
                signal,
                core_dumped: status.core_dumped(),
            }
        } else {
            Termination::Unknown
        }
    }

    /// `WSTRINGIFY`: `exited with status N` / `terminated with signal <text>`.
    pub fn describe(&self) -> String {
        match *self {
            Termination::Exited(code) => format!("exited with status {code}"),
            Termination::Signaled {
                signal,
                core_dumped,
            } => {
                let core = if core_dumped { " (core dumped)" } else { "" };
                format!(
                    "terminated with signal {}{core}",
                    signal_description(signal)
                )
            }
            Termination::Unknown => "exited with unknown status".to_string(),
        }
    }
}

/// The terminal update the command executor sends when its command ends:
/// success wins, then a requested kill, then failure (src/launcher/executor.cpp).
pub fn terminal_update(term: Termination, kill_requested: bool) -> (TaskState, String) {
    match term {
        Termination::Unknown => (
            TaskState::TASK_FAILED,
            "Failed to get exit status for Command".to_string(),
        ),
        Termination::Exited(0) => (
            TaskState::TASK_FINISHED,
            format!("Command {}", term.describe()),
        ),
        _ if kill_requested => (
            TaskState::TASK_KILLED,
            format!("Command {}", term.describe()),
        ),
        _ => (
            TaskState::TASK_FAILED,
            format!("Command {}", term.describe()),
        ),
    }
}

/// glibc's `strsignal` text for the Linux signal numbers.
pub fn signal_description(signal: i32) -> String {
    let text = match signal {
        1 => "Hangup",
        2 => "Interrupt",
        3 => "Quit",
        4 => "Illegal instruction",
        5 => "Trace/breakpoint trap",
        6 => "Aborted",
        7 => "Bus error",
        8 => "Floating point exception",
        9 => "Killed",
        10 => "User defined signal 1",
        11 => "Segmentation fault",
        12 => "User defined signal 2",
        13 => "Broken pipe",
        14 => "Alarm clock",
        15 => "Terminated",
        16 => "Stack fault",
        17 => "Child exited",
        18 => "Continued",
        19 => "Stopped (signal)",
        20 => "Stopped",
        21 => "Stopped (tty input)",
        22 => "Stopped (tty output)",
        23 => "Urgent I/O condition",
        24 => "CPU time limit exceeded",
        25 => "File size limit exceeded",
        26 => "Virtual timer expired",
        27 => "Profiling timer expired",
        28 => "Window changed",
        29 => "I/O possible",
        30 => "Power failure",
        31 => "Bad system call",
        n if (34..=64).contains(&n) => return format!("Real-time signal {}", n - 34),
        n => return format!("Unknown signal {n}"),
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskState::*;

    #[test]
    fn exit_codes_map_to_states_and_messages() {
        assert_eq!(
            terminal_update(Termination::Exited(0), false),
            (TASK_FINISHED, "Command exited with status 0".into())
        );
        assert_eq!(
            terminal_update(Termination::Exited(3), false),
            (TASK_FAILED, "Command exited with status 3".into())
        );
        assert_eq!(
            terminal_update(
                Termination::Signaled {
                    signal: 9,
                    core_dumped: false
                },
                false
            ),
            (TASK_FAILED, "Command terminated with signal Killed".into())
        );
        assert_eq!(terminal_update(Termination::Unknown, false).0, TASK_FAILED);
    }

    #[test]
    fn requested_kill_reports_killed_unless_success() {
        assert_eq!(
            terminal_update(
                Termination::Signaled {
                    signal: 15,
                    core_dumped: false
                },
                true
            ),
            (
                TASK_KILLED,
                "Command terminated with signal Terminated".into()
            )
        );
        assert_eq!(
            terminal_update(Termination::Exited(143), true).0,
            TASK_KILLED
        );
        assert_eq!(
            terminal_update(Termination::Exited(0), true).0,
            TASK_FINISHED
        );
    }

    #[test]
    fn core_dumps_and_unusual_signals_are_worded() {
        assert_eq!(
            Termination::Signaled {
                signal: 11,
                core_dumped: true
            }
            .describe(),
            "terminated with signal Segmentation fault (core dumped)"
        );
        assert_eq!(signal_description(35), "Real-time signal 1");
        assert_eq!(signal_description(99), "Unknown signal 99");
    }

    #[test]
    fn converts_std_exit_status() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            Termination::from_exit_status(std::process::ExitStatus::from_raw(3 << 8)),
            Termination::Exited(3)
        );
        assert_eq!(
            Termination::from_exit_status(std::process::ExitStatus::from_raw(9)),
            Termination::Signaled {
                signal: 9,
                core_dumped: false
            }
        );
    }
}
