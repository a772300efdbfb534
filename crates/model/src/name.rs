//! Names and tags: what a resource, mesh, service or tag may be called.

use crate::error::Errors;

pub const MAX_NAME_LENGTH: usize = 63;
pub const MAX_TAG_KEY_LENGTH: usize = 63;
pub const MAX_TAG_VALUE_LENGTH: usize = 127;
pub const MAX_TAGS: usize = 32;
pub const MAX_LABELS: usize = 32;
/// Label and tag keys under this prefix are set by Weft itself and rejected from users.
pub const RESERVED_PREFIX: &str = "weft.dev/";

/// Why a name is not acceptable, or `None` when it is a DNS label:
/// 1 to 63 characters of `a-z`, `0-9` and `-`, starting and ending with a letter or digit.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name.len() > MAX_NAME_LENGTH {
        return Some(format!("must be at most {MAX_NAME_LENGTH} characters"));
    }
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if !name.chars().all(valid_char) {
        return Some("may contain only lower-case letters, digits and '-'".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("must start and end with a letter or digit".into());
    }
    None
}

pub fn check_name(errors: &mut Errors, field: &str, name: &str) {
    if let Some(problem) = name_problem(name) {
        errors.add(field, problem);
    }
}

/// A name that passed [`name_problem`]: parse, don't validate.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    pub fn parse(value: &str) -> Result<Name, String> {
        match name_problem(value) {
            None => Ok(Name(value.to_string())),
            Some(problem) => Err(problem),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn tag_key_problem(tag: &str) -> Option<&'static str> {
    if tag.is_empty() {
        return Some("tag key must not be empty");
    }
    if tag.len() > MAX_TAG_KEY_LENGTH {
        return Some("tag key is longer than 63 characters");
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
    if !tag.chars().all(valid) {
        return Some("tag key may contain only letters, digits, '-', '_', '.' and '/'");
    }
    None
}

fn tag_value_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        return Some("must not be empty");
    }
    if value.len() > MAX_TAG_VALUE_LENGTH {
        return Some("must be at most 127 characters");
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("must not contain whitespace or control characters");
    }
    None
}

/// Checks a tag or label map; `allow_reserved` lets Weft's own `weft.dev/` keys through.
pub fn check_tags<'a>(
    errors: &mut Errors,
    field: &str,
    tags: impl ExactSizeIterator<Item = (&'a String, &'a String)>,
    allow_reserved: bool,
) {
    if tags.len() > MAX_TAGS {
        errors.add(field, format!("must have at most {MAX_TAGS} entries"));
        return;
    }
    for (tag, value) in tags {
        let path = crate::error::key(field, tag);
        if let Some(problem) = tag_key_problem(tag) {
            errors.add(path.clone(), problem);
        } else if !allow_reserved && tag.starts_with(RESERVED_PREFIX) {
            errors.add(
                path.clone(),
                "keys starting with weft.dev/ are reserved for Weft",
            );
        }
        if let Some(problem) = tag_value_problem(value) {
            errors.add(path, problem);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["a", "shop", "catalog-v2", "0", &"a".repeat(63)] {
            assert_eq!(name_problem(good), None, "{good}");
        }
        for bad in [
            "",
            "Shop",
            "-a",
            "a-",
            "a_b",
            "a.b",
            "a b",
            &"a".repeat(64),
            "é",
        ] {
            assert!(name_problem(bad).is_some(), "{bad}");
        }
    }
}
