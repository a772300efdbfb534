//! Durations written as strings: `250ms`, `2s`, `1m30s`, `1h`.

use std::fmt;
use std::time::Duration as StdDuration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest duration a manifest may name (30 days); keeps arithmetic far from overflow.
pub const MAX: StdDuration = StdDuration::from_secs(30 * 24 * 3600);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub StdDuration);

impl Duration {
    pub fn from_millis(millis: u64) -> Self {
        Duration(StdDuration::from_millis(millis))
    }

    pub fn as_std(self) -> StdDuration {
        self.0
    }

    /// Parses `<number><unit>` groups with units `ms`, `s`, `m`, `h`, e.g. `1m30s`.
    pub fn parse(text: &str) -> Result<Duration, String> {
        if text.is_empty() {
            return Err("duration must not be empty".into());
        }
        if text.len() > 32 {
            return Err("duration is too long".into());
        }
        let mut total_millis: u128 = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return Err(format!(
                    "invalid duration {text:?}: expected a number, e.g. 250ms, 2s, 1m, 1h"
                ));
            }
            let (number, after) = rest.split_at(digits);
            let value: u128 = number
                .parse()
                .map_err(|_| format!("invalid duration {text:?}: number too large"))?;
            let unit_len = after
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .count();
            let (unit, after_unit) = after.split_at(unit_len);
            let millis_per_unit: u128 = match unit {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "" => {
                    return Err(format!(
                        "invalid duration {text:?}: missing unit (ms, s, m or h)"
                    ));
                }
                other => {
                    return Err(format!(
                        "invalid duration {text:?}: unknown unit {other:?} (use ms, s, m or h)"
                    ));
                }
            };
            total_millis = total_millis.saturating_add(value.saturating_mul(millis_per_unit));
            rest = after_unit;
        }
        if total_millis > MAX.as_millis() {
            return Err(format!("duration {text:?} is longer than 30 days"));
        }
        Ok(Duration(StdDuration::from_millis(total_millis as u64)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1_000)] {
            if millis.is_multiple_of(size) {
                return write!(f, "{}{unit}", millis / size);
            }
        }
        write!(f, "{millis}ms")
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for (text, millis, printed) in [
            ("250ms", 250, "250ms"),
            ("2s", 2_000, "2s"),
            ("1m30s", 90_000, "90s"),
            ("1h", 3_600_000, "1h"),
            ("0s", 0, "0s"),
            ("1500ms", 1_500, "1500ms"),
        ] {
            let parsed = Duration::parse(text).unwrap();
            assert_eq!(parsed.0.as_millis(), millis, "{text}");
            assert_eq!(parsed.to_string(), printed, "{text}");
        }
    }

    #[test]
    fn rejects() {
        for text in [
            "",
            "5",
            "s",
            "-1s",
            "1d",
            "1.5s",
            "99999999999999999999h",
            "1s ",
            "720h1ms",
        ] {
            assert!(Duration::parse(text).is_err(), "{text}");
        }
    }
}

/// A duration as written in a manifest. Decoding always succeeds so that a bad value is
/// reported with every other problem by [`DurationText::check`], not as the first decode error.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DurationText(pub String);

impl DurationText {
    /// The parsed value; `None` only for text that failed validation.
    pub fn get(&self) -> Option<Duration> {
        Duration::parse(&self.0).ok()
    }

    /// Checks the text parses and lies within `min..=max`.
    pub fn check(
        &self,
        errors: &mut crate::error::Errors,
        path: &str,
        min: Duration,
        max: Duration,
    ) {
        match Duration::parse(&self.0) {
            Err(problem) => errors.add(path, problem),
            Ok(value) if value < min => errors.add(path, format!("must be at least {min}")),
            Ok(value) if value > max => errors.add(path, format!("must be at most {max}")),
            Ok(_) => {}
        }
    }
}

impl From<&str> for DurationText {
    fn from(text: &str) -> Self {
        DurationText(text.to_string())
    }
}

impl std::ops::Mul<u32> for Duration {
    type Output = Duration;
    fn mul(self, factor: u32) -> Duration {
        Duration(self.0 * factor)
    }
}

/// Common bounds.
pub const MILLISECOND: Duration = Duration(StdDuration::from_millis(1));
pub const HOUR: Duration = Duration(StdDuration::from_secs(3600));
pub const DAY: Duration = Duration(StdDuration::from_secs(24 * 3600));
pub const LONGEST: Duration = Duration(MAX);
