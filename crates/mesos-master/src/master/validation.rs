//! Pure checks of what a scheduler sends, with Mesos's messages, kept out
//! of the book's state-changing methods so they can be unit-tested alone.

use mesos_types::FrameworkInfo;

/// Checks of `FrameworkInfo` at SUBSCRIBE that need no master state.
pub fn validate_framework_info(info: &FrameworkInfo) -> Result<(), String> {
    let t = info.failover_timeout;
    // Mesos's `Duration::create`: the nanoseconds must fit an `int64`.
    // Beyond that the timeout cannot be represented (the failover deadline
    // would overflow), so Mesos refuses it rather than clamp it.
    const NANOS: f64 = 1e9;
    if !(t * NANOS <= i64::MAX as f64 && t * NANOS >= i64::MIN as f64) {
        return Err(format!(
            "The framework failover_timeout ({}) is invalid",
            stringify_double(t)
        ));
    }
    // Mesos takes a negative timeout as "fail over at once"; we have always
    // refused it and keep doing so.
    if t < 0.0 {
        return Err("'FrameworkInfo.failover_timeout' must be a non-negative number".into());
    }
    // The agent passes the user to the OS (getpwnam, setuid), whose C strings
    // end at the first NUL: "ro\0ot" would run tasks as whatever "ro" is.
    if info.user.contains('\0') {
        return Err("'FrameworkInfo.user' must not contain NUL characters".into());
    }
    Ok(())
}

/// A double as C++'s `ostream << double` prints it (stout's `stringify`):
/// `%g` with 6 significant digits, e.g. `1e+308`, `1.84467e+19`, `inf`.
fn stringify_double(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if (-4..6).contains(&exp) {
        let decimals = usize::try_from(5 - exp).unwrap_or(0);
        trim(&format!("{x:.decimals$}"))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(failover_timeout: f64) -> FrameworkInfo {
        FrameworkInfo {
            user: "u".into(),
            name: "n".into(),
            failover_timeout,
            ..Default::default()
        }
    }

    #[test]
    fn failover_timeout_must_fit_a_duration() {
        for ok in [0.0, 1.5, 604800.0, 9.2e9] {
            assert_eq!(validate_framework_info(&info(ok)), Ok(()), "{ok}");
        }
        assert_eq!(
            validate_framework_info(&info(1e308)),
            Err("The framework failover_timeout (1e+308) is invalid".into())
        );
        assert_eq!(
            validate_framework_info(&info(2f64.powi(64))),
            Err("The framework failover_timeout (1.84467e+19) is invalid".into())
        );
        assert_eq!(
            validate_framework_info(&info(f64::INFINITY)),
            Err("The framework failover_timeout (inf) is invalid".into())
        );
        assert!(validate_framework_info(&info(9.3e9)).is_err());
        assert!(validate_framework_info(&info(-1.0)).is_err());
        assert!(validate_framework_info(&info(f64::NAN)).is_err());
    }

    #[test]
    fn doubles_print_as_cpp_streams_do() {
        for (x, s) in [
            (1e308, "1e+308"),
            (18446744073709551616.0, "1.84467e+19"),
            (100.0, "100"),
            (1.5, "1.5"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e10, "-2.5e+10"),
        ] {
            assert_eq!(stringify_double(x), s);
        }
    }

    #[test]
    fn user_must_not_contain_nul() {
        let mut i = info(0.0);
        i.user = "ro\0ot".into();
        assert_eq!(
            validate_framework_info(&i),
            Err("'FrameworkInfo.user' must not contain NUL characters".into())
        );
    }
}
