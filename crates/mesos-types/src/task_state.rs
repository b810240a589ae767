//! The task state machine: which states end a task, and which updates a
//! framework of given capabilities may see.

use crate::enums::TaskState::{self, *};

/// Terminal states free the task's resources and move it to completed tasks.
pub fn is_terminal(s: TaskState) -> bool {
    matches!(
        s,
        TASK_FINISHED
            | TASK_FAILED
            | TASK_KILLED
            | TASK_ERROR
            | TASK_LOST
            | TASK_DROPPED
            | TASK_GONE
            | TASK_GONE_BY_OPERATOR
    )
}

/// Whether an update from `from` to `to` is a legal step. Terminal states
/// are final; STAGING can only be entered at launch.
pub fn can_transition(from: TaskState, to: TaskState) -> bool {
    if is_terminal(from) || to == TASK_STAGING {
        return false;
    }
    !matches!(
        (from, to),
        (TASK_RUNNING, TASK_STARTING) | (TASK_KILLING, TASK_STARTING | TASK_RUNNING)
    )
}

/// The state a framework without PARTITION_AWARE sees instead of the newer ones.
pub fn for_framework(s: TaskState, partition_aware: bool) -> TaskState {
    if partition_aware {
        return s;
    }
    match s {
        TASK_DROPPED | TASK_UNREACHABLE | TASK_GONE | TASK_GONE_BY_OPERATOR | TASK_UNKNOWN => {
            TASK_LOST
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_are_final() {
        for &t in TaskState::ALL.iter().filter(|s| is_terminal(**s)) {
            for &n in TaskState::ALL {
                assert!(!can_transition(t, n), "{t} -> {n}");
            }
        }
        assert!(can_transition(TASK_STAGING, TASK_STARTING));
        assert!(can_transition(TASK_RUNNING, TASK_FINISHED));
        assert!(!can_transition(TASK_RUNNING, TASK_STAGING));
        assert!(can_transition(TASK_UNREACHABLE, TASK_RUNNING));
    }

    #[test]
    fn non_partition_aware_see_lost() {
        assert_eq!(for_framework(TASK_DROPPED, false), TASK_LOST);
        assert_eq!(for_framework(TASK_DROPPED, true), TASK_DROPPED);
        assert_eq!(for_framework(TASK_FAILED, false), TASK_FAILED);
    }
}
