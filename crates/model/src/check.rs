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

/// Largest compiled program (Thompson NFA, bytes) a pattern may need; the proxy compiles with
/// the same limit.
pub const REGEX_SIZE_LIMIT: usize = 1 << 18;

/// A regular expression: bounded and compiled with a size limit. The proxy's `regex` crate
/// matches in linear time, so no pattern can make matching slow.
///
/// Checked with the parser and NFA compiler the proxy's `regex` uses, without its matching
/// engines (which would weigh a quarter of the console's download): a pattern accepted here
/// compiles in the proxy (`tests/properties.rs` holds the two together).
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
            format!("invalid regular expression: {}", first_line(&error)),
        );
    }
}

/// How the proxy uses a pattern: matching a whole value, as Gateway API specifies.
pub fn anchored(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

/// Parses the anchored `pattern` and compiles its NFAs within [`REGEX_SIZE_LIMIT`]: forward
/// with captures and reverse without, the two the proxy's `regex` builds.
#[cfg(feature = "regex-programs")]
pub fn compile(pattern: &str) -> Result<(), String> {
    use regex_automata::nfa::thompson::{Compiler, Config, WhichCaptures};
    let pattern = anchored(pattern);
    let forward = Config::new()
        .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
        .shrink(false);
    let reverse = forward
        .clone()
        .reverse(true)
        .which_captures(WhichCaptures::None);
    let Some(error) = [forward, reverse]
        .into_iter()
        .find_map(|config| Compiler::new().configure(config).build(&pattern).err())
    else {
        return Ok(());
    };
    if let Some(limit) = error.size_limit() {
        return Err(format!(
            "compiled pattern exceeds the size limit of {limit} bytes"
        ));
    }
    // A syntax error: the parser's own message, with its position.
    Err(std::error::Error::source(&error).map_or_else(|| error.to_string(), ToString::to_string))
}

/// Without `regex-programs` (the console): the pattern's syntax only. Unicode property names
/// and the program's size are judged where the programs are compiled, by the server.
#[cfg(not(feature = "regex-programs"))]
pub fn compile(pattern: &str) -> Result<(), String> {
    regex_syntax::ast::parse::Parser::new()
        .parse(&anchored(pattern))
        .map(drop)
        .map_err(|error| error.to_string())
}

/// Whether [`compile`] compiles programs (servers) or checks syntax only (the console).
pub const COMPILES_PROGRAMS: bool = cfg!(feature = "regex-programs");

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

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(pattern: &str) -> bool {
        let mut errors = Errors::default();
        regex(&mut errors, "p", pattern);
        errors.is_empty()
    }

    /// Runs in both builds: `cargo test -p weft-model` (as the servers) and with
    /// `--no-default-features` (as the console); `cargo xtask test` runs both.
    #[test]
    fn patterns_are_parsed_and_bounded() {
        assert!(accepted(r"(?i)\bbearer \w+\d*\s?"));
        assert!(accepted(r"\p{Greek}+"));
        assert!(accepted(r"\w{4}"));
        // Syntax errors are found in both builds.
        assert!(!accepted("("));
        assert!(!accepted("a{5,1}"));
        // Property names and program sizes only where programs are compiled.
        assert_eq!(accepted(r"\p{Nonsense}"), !COMPILES_PROGRAMS);
        assert_eq!(accepted(r"\w{200}\w{200}"), !COMPILES_PROGRAMS);
    }
}
