//! Label selectors for lists (`?labelSelector=team=shop,tier!=db`), in the syntax Kubernetes
//! users know: `key=value` (or `==`), `key!=value`, `key`, `!key`, `key in (a,b)` and
//! `key notin (a,b)`, all of which must hold.

use std::collections::BTreeMap;
use std::fmt;

/// At most this many requirements and this many characters in one selector.
pub const MAX_REQUIREMENTS: usize = 32;
pub const MAX_LENGTH: usize = 2048;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Missing(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

impl Requirement {
    fn holds(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Equals(key, value) => labels.get(key) == Some(value),
            // As in Kubernetes, a missing label is not equal to any value.
            Requirement::NotEquals(key, value) => labels.get(key) != Some(value),
            Requirement::Exists(key) => labels.contains_key(key),
            Requirement::Missing(key) => !labels.contains_key(key),
            Requirement::In(key, values) => labels.get(key).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(key, values) => labels.get(key).is_none_or(|v| !values.contains(v)),
        }
    }
}

/// A parsed selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

/// Why a selector does not parse, with the requirement at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorError(String);

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SelectorError {}

fn error(message: impl Into<String>) -> SelectorError {
    SelectorError(message.into())
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')
}

fn is_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn key(text: &str) -> Result<String, SelectorError> {
    let text = text.trim();
    if text.is_empty() || !text.chars().all(is_key_char) {
        return Err(error(format!(
            "{text:?} is not a label key (letters, digits, '.', '_', '-', '/')"
        )));
    }
    Ok(text.to_string())
}

fn value(text: &str) -> Result<String, SelectorError> {
    let text = text.trim();
    if !text.chars().all(is_value_char) {
        return Err(error(format!(
            "{text:?} is not a label value (letters, digits, '.', '_', '-')"
        )));
    }
    Ok(text.to_string())
}

/// Splits at commas outside parentheses.
fn split(text: &str) -> Result<Vec<&str>, SelectorError> {
    let mut parts = Vec::new();
    let mut depth = 0u8;
    let mut start = 0;
    for (index, c) in text.char_indices() {
        match c {
            '(' if depth == 0 => depth = 1,
            '(' => return Err(error("parentheses do not nest")),
            ')' if depth == 1 => depth = 0,
            ')' => return Err(error("')' without '('")),
            ',' if depth == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(error("'(' without ')'"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

/// `key in (a, b)` / `key notin (a, b)`, when the requirement has that shape.
fn set_requirement(text: &str) -> Option<Result<Requirement, SelectorError>> {
    let open = text.find('(')?;
    let head = text[..open].trim_end();
    let (name, negated) = if let Some(name) = head.strip_suffix(" notin") {
        (name, true)
    } else if let Some(name) = head.strip_suffix(" in") {
        (name, false)
    } else {
        return Some(Err(error(format!(
            "{text:?}: expected 'key in (…)' or 'key notin (…)'"
        ))));
    };
    let Some(inner) = text[open + 1..].trim_end().strip_suffix(')') else {
        return Some(Err(error(format!("{text:?}: nothing may follow ')'"))));
    };
    Some((|| {
        let name = key(name)?;
        let values = inner.split(',').map(value).collect::<Result<Vec<_>, _>>()?;
        if values.iter().all(String::is_empty) {
            return Err(error(format!("{text:?}: the set is empty")));
        }
        Ok(if negated {
            Requirement::NotIn(name, values)
        } else {
            Requirement::In(name, values)
        })
    })())
}

fn requirement(text: &str) -> Result<Requirement, SelectorError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(error("empty requirement (two commas in a row?)"));
    }
    if let Some(found) = set_requirement(text) {
        return found;
    }
    if let Some((name, wanted)) = text.split_once("!=") {
        return Ok(Requirement::NotEquals(key(name)?, value(wanted)?));
    }
    if let Some((name, wanted)) = text.split_once("==").or_else(|| text.split_once('=')) {
        return Ok(Requirement::Equals(key(name)?, value(wanted)?));
    }
    if let Some(name) = text.strip_prefix('!') {
        return Ok(Requirement::Missing(key(name)?));
    }
    Ok(Requirement::Exists(key(text)?))
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<LabelSelector, SelectorError> {
        if text.len() > MAX_LENGTH {
            return Err(error(format!("longer than {MAX_LENGTH} characters")));
        }
        if text.trim().is_empty() {
            return Ok(LabelSelector::default());
        }
        let parts = split(text)?;
        if parts.len() > MAX_REQUIREMENTS {
            return Err(error(format!("more than {MAX_REQUIREMENTS} requirements")));
        }
        let requirements = parts
            .into_iter()
            .map(requirement)
            .collect::<Result<_, _>>()?;
        Ok(LabelSelector { requirements })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements
            .iter()
            .all(|requirement| requirement.holds(labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn matches(selector: &str, pairs: &[(&str, &str)]) -> bool {
        LabelSelector::parse(selector)
            .unwrap_or_else(|error| panic!("{selector}: {error}"))
            .matches(&labels(pairs))
    }

    #[test]
    fn every_form_selects_as_kubernetes_does() {
        let shop = [("team", "shop"), ("tier", "web")];
        // The empty selector selects everything.
        assert!(matches("", &shop));
        assert!(matches("team=shop", &shop));
        assert!(matches("team==shop", &shop));
        assert!(!matches("team=payments", &shop));
        // All requirements must hold.
        assert!(matches("team=shop,tier=web", &shop));
        assert!(!matches("team=shop,tier=db", &shop));
        // A missing label is "not equal" and "not in".
        assert!(matches("env!=prod", &shop));
        assert!(matches("env notin (prod)", &shop));
        assert!(!matches("tier!=web", &shop));
        assert!(matches("team", &shop));
        assert!(!matches("env", &shop));
        assert!(matches("!env", &shop));
        assert!(!matches("!team", &shop));
        assert!(matches("tier in (db, web)", &shop));
        assert!(!matches("tier in (db)", &shop));
        assert!(!matches("env in (prod)", &shop));
        assert!(matches("team in (shop),tier notin (db,cache)", &shop));
        assert!(matches("weft.dev/zone", &[("weft.dev/zone", "east")]));
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        for (selector, expected) in [
            ("team=shop,,tier", "empty requirement"),
            ("team in (a", "'(' without ')'"),
            ("team in a)", "')' without '('"),
            ("team in ((a))", "do not nest"),
            ("team within (a)", "expected 'key in"),
            ("team in ()", "the set is empty"),
            ("te am=shop", "not a label key"),
            ("team=sh op", "not a label value"),
            ("=shop", "not a label key"),
            ("team in (a) x", "nothing may follow"),
        ] {
            let message = LabelSelector::parse(selector).unwrap_err().to_string();
            assert!(message.contains(expected), "{selector}: {message}");
        }
        let many = vec!["a"; MAX_REQUIREMENTS + 1].join(",");
        assert!(LabelSelector::parse(&many).is_err());
    }
}
