//! How values from the API read on a page.

use serde_json::Value;

/// A JSON value as text: strings as they are, nothing for null, anything else as JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `HH:MM:SS` of an RFC 3339 time.
pub fn short_time(rfc3339: &str) -> String {
    rfc3339
        .split('T')
        .nth(1)
        .map(|time| time.chars().take(8).collect())
        .unwrap_or_default()
}

/// "2026-12-07 04:52 UTC" from an RFC 3339 UTC timestamp (as the API writes them).
pub fn date_time(rfc3339: &str) -> String {
    let minutes: String = rfc3339.replacen('T', " ", 1).chars().take(16).collect();
    if rfc3339.ends_with('Z') {
        format!("{minutes} UTC")
    } else {
        minutes
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn values_and_times_read_plainly() {
        assert_eq!(super::text(&json!("v1")), "v1");
        assert_eq!(super::text(&json!(null)), "");
        assert_eq!(super::text(&json!(8080)), "8080");
        assert_eq!(super::short_time("2026-12-06T03:41:29Z"), "03:41:29");
        assert_eq!(super::short_time("garbage"), "");
    }

    #[test]
    fn date_time_keeps_the_day_and_minutes() {
        assert_eq!(
            super::date_time("2026-12-07T04:52:31.5Z"),
            "2026-12-07 04:52 UTC"
        );
    }
}
