//! Pages and label selection for every collection: `limit` (1 to 1000, 1000 when left out),
//! `continue` (the `continue` of the previous answer, opaque to clients) and, where the items
//! have labels, `labelSelector`. Items are ordered by their key (a name or an id), so a page
//! picks up exactly after the last item of the previous one even when items come and go.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use weft_model::selector::LabelSelector;

use crate::error::{Error, Result};

pub const MAX_LIMIT: usize = 1000;

/// The query parameters of a collection, for the route table.
pub const PAGED: &[(&str, &str)] = &[
    ("limit", "items per page, 1 to 1000 (1000)"),
    ("continue", "the `continue` of the previous page"),
];

/// The query parameters of a collection of labelled resources.
pub const PAGED_LABELLED: &[(&str, &str)] = &[
    ("limit", "items per page, 1 to 1000 (1000)"),
    ("continue", "the `continue` of the previous page"),
    (
        "labelSelector",
        "only items whose labels match, e.g. `team=shop,tier!=db,env in (prod,staging)`",
    ),
];

/// One page of a collection.
pub struct Page<T> {
    pub items: Vec<T>,
    /// Items in the whole collection (after the selector), not just this page.
    pub total: usize,
    /// Where the next page starts, if there is one.
    pub next: Option<String>,
}

#[derive(Debug, Default)]
pub struct ListQuery {
    limit: usize,
    after: Option<String>,
    pub selector: LabelSelector,
}

/// `?limit=`: 1 to `max`, `default` when left out; 400 naming the parameter otherwise.
pub fn limit(query: &HashMap<String, String>, default: usize, max: usize) -> Result<usize> {
    match query.get("limit") {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=max).contains(limit))
            .ok_or_else(|| {
                Error::BadRequest(format!("query parameter limit must be between 1 and {max}"))
            }),
    }
}

/// `?continue=` of pages cursored by a numeric id (audit log, rollout history).
pub fn id_cursor(query: &HashMap<String, String>) -> Result<Option<i64>> {
    query
        .get("continue")
        .map(|text| {
            text.parse::<i64>().map_err(|_| {
                Error::BadRequest(
                    "query parameter continue must be the continue of a previous page".into(),
                )
            })
        })
        .transpose()
}

impl ListQuery {
    /// Reads `limit`, `continue` and (when `labelled`) `labelSelector`; 400 naming the
    /// parameter when one is wrong.
    pub fn parse(query: &HashMap<String, String>, labelled: bool) -> Result<ListQuery> {
        let limit = limit(query, MAX_LIMIT, MAX_LIMIT)?;
        let after = query
            .get("continue")
            .map(|token| {
                URL_SAFE_NO_PAD
                    .decode(token)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| {
                        Error::BadRequest(
                            "query parameter continue must be the continue of a previous page"
                                .into(),
                        )
                    })
            })
            .transpose()?;
        let selector = match query.get("labelSelector") {
            Some(text) if labelled => LabelSelector::parse(text).map_err(|error| {
                Error::BadRequest(format!("query parameter labelSelector: {error}"))
            })?,
            _ => LabelSelector::default(),
        };
        Ok(ListQuery {
            limit,
            after,
            selector,
        })
    }

    /// The page of `items` (already filtered) this query asks for, ordered by `key`.
    pub fn page<T>(&self, mut items: Vec<T>, key: impl Fn(&T) -> &str) -> Page<T> {
        items.sort_by(|a, b| key(a).cmp(key(b)));
        let total = items.len();
        let start = match &self.after {
            Some(after) => items.partition_point(|item| key(item) <= after.as_str()),
            None => 0,
        };
        let mut items: Vec<T> = items.into_iter().skip(start).collect();
        let next = (items.len() > self.limit).then(|| {
            items.truncate(self.limit);
            items
                .last()
                .map(|last| URL_SAFE_NO_PAD.encode(key(last)))
                .unwrap_or_default()
        });
        Page { items, total, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pages_cover_every_item_once_in_order() {
        let names: Vec<String> = (0..25).map(|i| format!("svc-{i:02}")).rev().collect();
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut pairs = vec![("limit", "10".to_string())];
            if let Some(token) = &after {
                pairs.push(("continue", token.clone()));
            }
            let pairs: HashMap<String, String> =
                pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            let page = ListQuery::parse(&pairs, false)
                .unwrap()
                .page(names.clone(), String::as_str);
            assert_eq!(page.total, 25);
            assert!(page.items.len() <= 10);
            seen.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(seen, sorted);
    }

    #[test]
    fn a_full_last_page_has_no_continue() {
        let page = ListQuery::parse(&query(&[("limit", "2")]), false)
            .unwrap()
            .page(vec!["a", "b"], |item| item);
        assert!(page.next.is_none());
    }

    #[test]
    fn bad_parameters_are_named() {
        for (pairs, name) in [
            (query(&[("limit", "0")]), "limit"),
            (query(&[("limit", "1001")]), "limit"),
            (query(&[("limit", "ten")]), "limit"),
            (query(&[("continue", "%%%")]), "continue"),
            (query(&[("labelSelector", "a in (")]), "labelSelector"),
        ] {
            let error = ListQuery::parse(&pairs, true).unwrap_err().to_string();
            assert!(error.contains(name), "{error}");
        }
        // Where items have no labels, a selector is not read.
        assert!(ListQuery::parse(&query(&[("labelSelector", "a in (")]), false).is_ok());
    }
}
