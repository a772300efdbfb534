//! Prometheus exposition shared by the binaries: the text format 0.0.4 that every scraper and
//! `promtool check metrics` read, made from the OpenMetrics text that `prometheus-client`
//! encodes; OpenMetrics itself for scrapers that ask for it.

/// Content type of the Prometheus text format.
pub const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics text.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether an `Accept` header asks for OpenMetrics.
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| accept.contains("application/openmetrics-text"))
}

/// What `/metrics` answers to a scraper whose `Accept` header is `accept`: OpenMetrics when it
/// asks for it, else the Prometheus text format. Returns (content type, body).
pub fn negotiate(accept: Option<&str>, openmetrics: String) -> (&'static str, String) {
    if wants_openmetrics(accept) {
        (OPENMETRICS, openmetrics)
    } else {
        (TEXT, openmetrics_to_text(&openmetrics))
    }
}

/// The Prometheus text form of OpenMetrics text: counter families are named with their
/// `_total` suffix, `# UNIT` lines and the `# EOF` marker are dropped.
pub fn openmetrics_to_text(openmetrics: &str) -> String {
    let mut counters: Vec<&str> = Vec::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, "counter")) = rest.split_once(' ')
        {
            counters.push(name);
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            (counters.contains(&name) && !name.ends_with("_total"))
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_get_their_total_names_and_the_markers_go() {
        let text = openmetrics_to_text(
            "# HELP weft_requests Requests.\n# TYPE weft_requests counter\nweft_requests_total{a=\"b\"} 3\n# HELP weft_up Up.\n# TYPE weft_up gauge\nweft_up 1\n# EOF\n",
        );
        assert_eq!(
            text,
            "# HELP weft_requests_total Requests.\n# TYPE weft_requests_total counter\nweft_requests_total{a=\"b\"} 3\n# HELP weft_up Up.\n# TYPE weft_up gauge\nweft_up 1\n"
        );
        assert!(wants_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0"
        )));
        assert!(!wants_openmetrics(Some("text/plain")));
    }
}
