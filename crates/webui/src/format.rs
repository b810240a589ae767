//! How the UIs write numbers, sizes and times: the same everywhere, so a
//! value reads the same on every page.

use crate::Html;

/// Days since 1970-01-01 to a civil (proleptic Gregorian) date: Howard
/// Hinnant's `civil_from_days`. Written here because the UIs only need
/// this one conversion, not a calendar crate.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `2026-12-02 06:30:11` (UTC) for epoch seconds; `-` for 0, negative or
/// non-finite values (never set).
pub fn utc(epoch_secs: f64) -> String {
    if !epoch_secs.is_finite() || epoch_secs <= 0.0 || epoch_secs > 253_402_300_799.0 {
        return "-".into();
    }
    let secs = epoch_secs.floor() as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}",
        t / 3600,
        t % 3600 / 60,
        t % 60
    )
}

/// A `<time>` element for epoch seconds (UTC text, ISO 8601 attribute).
pub fn time(epoch_secs: f64) -> Html {
    let text = utc(epoch_secs);
    if text == "-" {
        return Html::text("-");
    }
    let iso = format!("{}Z", text.replacen(' ', "T", 1));
    Html::trusted(format!("<time datetime=\"{iso}\">{text} UTC</time>"))
}

/// A duration in seconds as `3d 4h`, `5m 2s`, `800ms`.
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".into();
    }
    if secs < 1.0 {
        return format!("{}ms", (secs * 1000.0).round() as u64);
    }
    let s = secs.round() as u64;
    let (d, h, m, s) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// Megabytes (Mesos's unit for `mem` and `disk`) as `512 MB`, `1.5 GB`.
pub fn megabytes(mb: f64) -> String {
    if !mb.is_finite() || mb <= 0.0 {
        return "0 B".into();
    }
    let units = ["MB", "GB", "TB", "PB"];
    let mut v = mb;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{} {}", size_number(v), units[i])
}

/// A size's number: fewer decimals the larger it is (`1.25`, `22.5`, `247`).
fn size_number(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        number((v * 10.0).round() / 10.0)
    } else {
        number(v)
    }
}

/// Bytes as `120 B`, `1.2 KB`, `3 MB`.
pub fn bytes(b: u64) -> String {
    if b < 1024 {
        return format!("{b} B");
    }
    let units = ["KB", "MB", "GB", "TB", "PB"];
    let mut v = b as f64 / 1024.0;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{} {}", number(v), units[i])
}

/// A scalar as Mesos shows it: at most two decimals, no trailing zeros
/// (`2`, `0.5`, `1.25`).
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// An integer with thousands separators (`100,000`).
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share (0..=1) as a percentage with one decimal.
pub fn percent(share: f64) -> String {
    if !share.is_finite() {
        return "-".into();
    }
    format!("{:.1}%", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_matches_known_dates() {
        assert_eq!(utc(0.0), "-");
        assert_eq!(utc(1.0), "1970-01-01 00:00:01");
        assert_eq!(utc(951_782_400.0), "2000-02-29 00:00:00");
        assert_eq!(utc(1_796_193_011.5), "2026-12-02 06:30:11");
        assert_eq!(utc(f64::NAN), "-");
        assert_eq!(utc(1e300), "-");
        assert_eq!(
            time(1.0).as_str(),
            "<time datetime=\"1970-01-01T00:00:01Z\">1970-01-01 00:00:01 UTC</time>"
        );
    }

    #[test]
    fn sizes_and_numbers() {
        assert_eq!(megabytes(512.0), "512 MB");
        assert_eq!(megabytes(1536.0), "1.5 GB");
        assert_eq!(megabytes(0.0), "0 B");
        assert_eq!(megabytes(252_897.0), "247 GB");
        assert_eq!(megabytes(23_080.0), "22.5 GB");
        assert_eq!(bytes(100), "100 B");
        assert_eq!(bytes(2048), "2 KB");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(1.256), "1.26");
        assert_eq!(count(100_000), "100,000");
        assert_eq!(count(12), "12");
        assert_eq!(duration(0.25), "250ms");
        assert_eq!(duration(65.0), "1m 5s");
        assert_eq!(duration(90_000.0), "1d 1h");
        assert_eq!(percent(0.1234), "12.3%");
    }
}
