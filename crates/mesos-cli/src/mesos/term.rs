//! The width tables are fitted to: the terminal's, when stdout is one.
//!
//! The size comes from `TIOCGWINSZ` through rustix (a safe wrapper; nix
//! offers the ioctl only as `unsafe` macros, and the workspace denies
//! `unsafe`), then from `COLUMNS`, then 80. When stdout is not a
//! terminal there is no width: tables print whole values for scripts.

use std::io::IsTerminal;

const FALLBACK: usize = 80;

/// The width to fit tables to, `None` when stdout is not a terminal.
pub fn stdout_width() -> Option<usize> {
    let out = std::io::stdout();
    if !out.is_terminal() {
        return None;
    }
    let ioctl = rustix::termios::tcgetwinsize(&out)
        .ok()
        .map(|ws| usize::from(ws.ws_col));
    Some(choose(ioctl, std::env::var("COLUMNS").ok().as_deref()))
}

/// The first usable of the terminal's answer and `COLUMNS`, else 80.
pub fn choose(ioctl: Option<usize>, columns: Option<&str>) -> usize {
    ioctl
        .filter(|&w| w > 0)
        .or_else(|| columns?.trim().parse().ok().filter(|&w: &usize| w > 0))
        .unwrap_or(FALLBACK)
}

#[cfg(test)]
mod tests {
    use super::choose;

    #[test]
    fn terminal_then_columns_then_default() {
        assert_eq!(choose(Some(120), Some("90")), 120);
        // A pseudo-terminal that reports no size (0 columns).
        assert_eq!(choose(Some(0), Some("90")), 90);
        assert_eq!(choose(None, Some(" 100 ")), 100);
        assert_eq!(choose(None, Some("wide")), 80);
        assert_eq!(choose(None, Some("0")), 80);
        assert_eq!(choose(None, None), 80);
    }
}
