//! Collections page with `limit` and `continue` and filter with `labelSelector`; a page holds
//! only what the caller may see, and bad parameters get a 400 naming the parameter.

mod common;

use axum::http::StatusCode;
use common::{api, mesh_in};
use serde_json::Value;

/// Every item of `collection`, `limit` at a time, as `token` sees it.
async fn all_pages(api: &common::Api, collection: &str, limit: usize, token: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..100 {
        let separator = if collection.contains('?') { '&' } else { '?' };
        let mut uri = format!("{collection}{separator}limit={limit}");
        if let Some(token) = &next {
            uri.push_str(&format!("&continue={token}"));
        }
        let (status, body) = api.call_as("GET", &uri, None, Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= limit, "{uri}: {} items", items.len());
        names.extend(items.iter().map(|item| {
            item["metadata"]["name"]
                .as_str()
                .or(item["name"].as_str())
                .or(item["user"].as_str())
                .unwrap()
                .to_string()
        }));
        match body["continue"].as_str() {
            Some(token) => next = Some(token.to_string()),
            None => return names,
        }
    }
    panic!("{collection} never ended");
}

fn route(name: &str, tier: &str) -> String {
    format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Timeout\nmetadata:\n  name: {name}\n  mesh: shop\n  labels: {{tier: {tier}}}\nspec:\n  targetRef: {{kind: Mesh}}\n  to: [{{targetRef: {{kind: Mesh}}, default: {{request: 5s}}}}]\n"
    )
}

#[tokio::test]
async fn pages_cover_a_collection_once_and_selectors_narrow_it() {
    let api = api().await;
    let (status, body) = api
        .put_yaml("/api/v1/meshes/shop", &mesh_in("shop", "shop-team"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut expected = Vec::new();
    for index in 0..7 {
        let name = format!("timeout-{index}");
        let tier = if index % 2 == 0 { "web" } else { "db" };
        let (status, body) = api
            .put_yaml(
                &format!("/api/v1/meshes/shop/timeouts/{name}"),
                &route(&name, tier),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        expected.push(name);
    }
    let token = api.token.clone();
    // Three pages of three: every item once, in name order.
    assert_eq!(
        all_pages(&api, "/api/v1/meshes/shop/timeouts", 3, &token).await,
        expected
    );
    let (_, first) = api
        .call("GET", "/api/v1/meshes/shop/timeouts?limit=3", None)
        .await;
    assert_eq!(first["total"], 7, "total counts every page");
    // A page picks up after the last name it saw, even when that one is gone.
    let after_first = first["continue"].as_str().unwrap().to_string();
    let (status, _) = api
        .call("DELETE", "/api/v1/meshes/shop/timeouts/timeout-2", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, second) = api
        .call(
            "GET",
            &format!("/api/v1/meshes/shop/timeouts?limit=3&continue={after_first}"),
            None,
        )
        .await;
    let names: Vec<&str> = second["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["timeout-3", "timeout-4", "timeout-5"]);

    // Label selectors, equality, set and existence, also across pages.
    for (selector, wanted) in [
        ("tier%3Dweb", vec!["timeout-0", "timeout-4", "timeout-6"]),
        ("tier!%3Dweb", vec!["timeout-1", "timeout-3", "timeout-5"]),
        (
            "tier%20in%20(db,web)",
            vec![
                "timeout-0",
                "timeout-1",
                "timeout-3",
                "timeout-4",
                "timeout-5",
                "timeout-6",
            ],
        ),
        ("!tier", vec![]),
    ] {
        let collection = format!("/api/v1/meshes/shop/timeouts?labelSelector={selector}");
        assert_eq!(
            all_pages(&api, &collection, 2, &token).await,
            wanted,
            "{selector}"
        );
    }
}

#[tokio::test]
async fn pages_hold_only_what_the_caller_may_see() {
    let api = api().await;
    for (name, tenant) in [("shop", "shop-team"), ("shop-2", "shop-team")] {
        let (status, body) = api
            .put_yaml(&format!("/api/v1/meshes/{name}"), &mesh_in(name, tenant))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = api
        .put_yaml(
            "/api/v1/tenants/another-team",
            "apiVersion: weft.dev/v1alpha1\nkind: Tenant\nmetadata: {name: another-team}\nspec: {members: [{user: alice, role: owner}]}\n",
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for name in ["a-first", "zz-last"] {
        let (status, body) = api
            .put_yaml(
                &format!("/api/v1/meshes/{name}"),
                &mesh_in(name, "another-team"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let carol = api.login("carol").await;
    assert_eq!(
        all_pages(&api, "/api/v1/meshes", 1, &carol).await,
        ["shop", "shop-2"]
    );
    let (_, page) = api
        .call_as("GET", "/api/v1/meshes?limit=1", None, Some(&carol))
        .await;
    assert_eq!(page["total"], 2, "the total counts only visible meshes");
    let admin = api.token.clone();
    assert_eq!(
        all_pages(&api, "/api/v1/meshes", 3, &admin).await,
        ["a-first", "shop", "shop-2", "zz-last"]
    );
    // Other collections page the same way.
    assert_eq!(
        all_pages(&api, "/api/v1/tenants/shop-team/members", 2, &admin).await,
        ["alice", "bob", "carol"]
    );
}

#[tokio::test]
async fn bad_list_parameters_name_the_parameter() {
    let api = api().await;
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("limit=many", "limit"),
        ("continue=%25%25", "continue"),
        ("labelSelector=tier%20in%20(web", "labelSelector"),
        ("labelSelector=ti%20er%3Dweb", "labelSelector"),
    ] {
        for collection in ["/api/v1/meshes", "/api/v1/users", "/api/v1/auth/tokens"] {
            let (status, body) = api
                .call("GET", &format!("{collection}?{query}"), None)
                .await;
            if parameter == "labelSelector" && collection != "/api/v1/meshes" {
                // Users and tokens have no labels: the selector is not read.
                assert_eq!(status, StatusCode::OK, "{collection}?{query}: {body}");
                continue;
            }
            assert_eq!(status, StatusCode::BAD_REQUEST, "{collection}?{query}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(parameter), "{collection}?{query}: {body}");
        }
    }
    let (status, body): (StatusCode, Value) =
        api.call("GET", "/api/v1/audit?continue=x", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
