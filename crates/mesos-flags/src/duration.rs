//! stout durations: `<number><unit>` with units ns, us, ms, secs, mins, hrs, days, weeks.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub fn from_secs_f64(s: f64) -> Duration {
        Duration(std::time::Duration::from_secs_f64(s))
    }
    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(|| format!("invalid duration '{s}': missing unit (ns, us, ms, secs, mins, hrs, days, weeks)"))?;
        let (num, unit) = s.split_at(split);
        let n: f64 = num.parse().map_err(|_| format!("invalid duration '{s}'"))?;
        let secs = match unit {
            "ns" => n / 1e9,
            "us" => n / 1e6,
            "ms" => n / 1e3,
            "secs" => n,
            "mins" => n * 60.0,
            "hrs" => n * 3600.0,
            "days" => n * 86400.0,
            "weeks" => n * 604800.0,
            _ => return Err(format!("invalid duration '{s}': unknown unit '{unit}'")),
        };
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!("invalid duration '{s}'"));
        }
        Ok(Duration::from_secs_f64(secs))
    }
}

/// Renders the way Mesos prints durations (`15secs`, `100ms`, `10mins`).
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        let units: [(u128, &str); 8] = [
            (604_800_000_000_000, "weeks"),
            (86_400_000_000_000, "days"),
            (3_600_000_000_000, "hrs"),
            (60_000_000_000, "mins"),
            (1_000_000_000, "secs"),
            (1_000_000, "ms"),
            (1_000, "us"),
            (1, "ns"),
        ];
        for (size, name) in units {
            if ns >= size && ns.is_multiple_of(size) {
                return write!(f, "{}{}", ns / size, name);
            }
        }
        if ns == 0 {
            return write!(f, "0ns");
        }
        write!(f, "{}secs", self.0.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_render() {
        assert_eq!("15secs".parse::<Duration>().unwrap().0.as_secs(), 15);
        assert_eq!("1mins".parse::<Duration>().unwrap().to_string(), "1mins");
        assert_eq!("500ms".parse::<Duration>().unwrap().to_string(), "500ms");
        assert_eq!("0.5secs".parse::<Duration>().unwrap().to_string(), "500ms");
        assert!("5".parse::<Duration>().is_err());
        assert!("5parsecs".parse::<Duration>().is_err());
    }
}
