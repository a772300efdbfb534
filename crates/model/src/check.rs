//! Small validation helpers shared by every kind.

use crate::error::Errors;

/// Reports `path` unless `value` lies in `min..=max`.
pub fn range(errors: &mut Errors, path: &str, value: i64, min: i64, max: i64) {
    if value < min || value > max {
        errors.add(path, format!("must be between {min} and {max}"));
    }
}

/// Optional integer within bounds.
pub fn optional_range(errors: &mut Errors, path: &str, value: Option<i64>, min: i64, max: i64) {
    if let Some(value) = value {
        range(errors, path, value, min, max);
    }
}

/// A percentage, 0 to 100 inclusive (fractions allowed).
pub fn percent(errors: &mut Errors, path: &str, value: f64) {
    if !(0.0..=100.0).contains(&value) || value.is_nan() {
        errors.add(path, "must be a percentage between 0 and 100");
    }
}

/// An HTTP status code in `min..=max`.
pub fn status(errors: &mut Errors, path: &str, value: i64, min: i64, max: i64) {
    if value < min || value > max {
        errors.add(
            path,
            format!("must be an HTTP status between {min} and {max}"),
        );
    }
}

/// A bounded, non-empty string without control characters.
pub fn text(errors: &mut Errors, path: &str, value: &str, max: usize) {
    if value.is_empty() {
        errors.add(path, "must not be empty");
    } else if value.len() > max {
        errors.add(path, format!("must be at most {max} characters"));
    } else if value.chars().any(char::is_control) {
        errors.add(path, "must not contain control characters");
    }
}

/// A list of at most `max` entries.
pub fn length<T>(errors: &mut Errors, path: &str, list: &[T], max: usize) {
    if list.len() > max {
        errors.add(path, format!("must have at most {max} entries"));
    }
}

/// An HTTP header name (RFC 9110 token, lower-case recommended).
pub fn header_name(errors: &mut Errors, path: &str, name: &str) {
    let valid = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || name.len() > 256 || !name.chars().all(valid) {
        errors.add(path, "must be a valid HTTP header name");
    }
}

/// An HTTP header value: visible ASCII and spaces, bounded.
pub fn header_value(errors: &mut Errors, path: &str, value: &str) {
    if value.len() > 4096 || value.chars().any(|c| c.is_control() || !c.is_ascii()) {
        errors.add(path, "must be visible ASCII, at most 4096 characters");
    }
}

/// Longest regular expression accepted anywhere.
pub const MAX_REGEX_LENGTH: usize = 256;

/// A regular expression: bounded and compiled with a size limit. The `regex` crate matches in
/// linear time, so no pattern can make matching slow.
pub fn regex(errors: &mut Errors, path: &str, pattern: &str) {
    if pattern.is_empty() {
        errors.add(path, "must not be empty");
        return;
    }
    if pattern.len() > MAX_REGEX_LENGTH {
        errors.add(
            path,
            format!("must be at most {MAX_REGEX_LENGTH} characters"),
        );
        return;
    }
    if let Err(error) = compile(pattern) {
        errors.add(
            path,
            format!(
                "invalid regular expression: {}",
                first_line(&error.to_string())
            ),
        );
    }
}

/// Compiles a validated pattern the way the proxy does.
pub fn compile(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 18)
        .dfa_size_limit(1 << 18)
        .build()
}

fn first_line(text: &str) -> String {
    text.lines().last().unwrap_or(text).trim().to_string()
}

/// Exactly one of the named options is set.
pub fn one_of(errors: &mut Errors, path: &str, set: &[(&str, bool)]) {
    let chosen: Vec<&str> = set
        .iter()
        .filter(|(_, is_set)| *is_set)
        .map(|(name, _)| *name)
        .collect();
    let names: Vec<&str> = set.iter().map(|(name, _)| *name).collect();
    match chosen.len() {
        1 => {}
        0 => errors.add(path, format!("set one of {}", names.join(", "))),
        _ => errors.add(path, format!("set only one of {}", chosen.join(", "))),
    }
}
