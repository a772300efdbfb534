//! TrafficRoute filters on real traffic: header changes, redirects, rewrites, mirrors.

mod support;

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use support::*;
use weft_model::traffic_route::{
    Backend, Filter, Header, HeaderModifier, Mirror, PathMatch, PathRewrite, Redirect, RouteMatch,
    UrlRewrite,
};

fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.into(),
        value: value.into(),
    }
}

fn prefix(path: &str) -> RouteMatch {
    RouteMatch {
        path: Some(PathMatch {
            prefix: Some(path.into()),
            ..PathMatch::default()
        }),
        ..RouteMatch::default()
    }
}

#[tokio::test]
async fn headers_are_set_added_and_removed_both_ways() {
    let catalog = App::start("catalog").await;
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.rules[0].filters = vec![
        Filter {
            request_header_modifier: Some(HeaderModifier {
                set: vec![header("x-team", "shop")],
                add: vec![header("x-tag", "a")],
                remove: vec!["x-secret".into()],
            }),
            ..Filter::default()
        },
        Filter {
            response_header_modifier: Some(HeaderModifier {
                set: vec![header("x-served-by", "weft")],
                ..HeaderModifier::default()
            }),
            ..Filter::default()
        },
    ];
    let (_proxy, _) = serve(config(
        vec![],
        vec![out],
        vec![endpoint("catalog", "v1", catalog.port)],
    ))
    .await;
    let answer = Client::default()
        .get_with(
            port,
            "/",
            &[("x-team", "other"), ("x-secret", "s"), ("x-tag", "b")],
        )
        .await;
    let seen = &answer.json()["headers"];
    assert_eq!(seen["x-team"], "shop");
    assert_eq!(seen["x-tag"], "b, a", "added after the request's own value");
    assert!(seen.get("x-secret").is_none());
    assert_eq!(answer.headers["x-served-by"], "weft");
}

#[tokio::test]
async fn redirects_answer_without_calling_upstream() {
    let catalog = App::start("catalog").await;
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.rules[0].route_match = prefix("/old");
    out.rules[0].filters = vec![Filter {
        request_redirect: Some(Redirect {
            scheme: Some("https".into()),
            hostname: Some("shop.example".into()),
            port: None,
            path: Some(PathRewrite {
                replace_prefix_match: Some("/new".into()),
                ..PathRewrite::default()
            }),
            status_code: Some(301),
        }),
        ..Filter::default()
    }];
    let (_proxy, _) = serve(config(
        vec![],
        vec![out],
        vec![endpoint("catalog", "v1", catalog.port)],
    ))
    .await;
    let answer = Client::default().get(port, "/old/items?page=2").await;
    assert_eq!(answer.status, 301);
    assert_eq!(
        answer.headers["location"],
        "https://shop.example/new/items?page=2"
    );
    assert_eq!(catalog.requests(), 0);
}

#[tokio::test]
async fn rewrites_change_the_path_and_host() {
    let catalog = App::start("catalog").await;
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.rules[0].route_match = prefix("/api");
    out.rules[0].filters = vec![Filter {
        url_rewrite: Some(UrlRewrite {
            hostname: Some("catalog.internal".into()),
            path: Some(PathRewrite {
                replace_prefix_match: Some("/v2".into()),
                ..PathRewrite::default()
            }),
        }),
        ..Filter::default()
    }];
    let (_proxy, _) = serve(config(
        vec![],
        vec![out],
        vec![endpoint("catalog", "v1", catalog.port)],
    ))
    .await;
    let seen = Client::default().get(port, "/api/items?q=1").await.json();
    assert_eq!(seen["path"], "/v2/items?q=1");
    assert_eq!(seen["headers"]["host"], "catalog.internal");
}

#[tokio::test]
async fn mirrors_get_copies_and_never_change_the_answer() {
    let catalog = App::start("catalog").await;
    let shadow = App::start("shadow").await;
    shadow.behaviour.status.store(500, SeqCst);
    shadow.behaviour.delay_ms.store(200, SeqCst);
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.rules[0].filters = vec![Filter {
        request_mirror: Some(Mirror {
            backend: Some(Backend {
                service: "catalog-next".into(),
                tags: Default::default(),
                weight: 1,
            }),
            percentage: Some(100.0),
        }),
        ..Filter::default()
    }];
    let (_proxy, telemetry) = serve(config(
        vec![],
        vec![out],
        vec![
            endpoint("catalog", "v1", catalog.port),
            endpoint("catalog-next", "v1", shadow.port),
        ],
    ))
    .await;
    let client = Client::default();
    for n in 0..5 {
        let answer = client.post(port, "/orders", &format!("order {n}")).await;
        assert_eq!(
            answer.status, 200,
            "the slow, failing mirror does not matter"
        );
        assert_eq!(answer.name(), "catalog");
    }
    eventually(
        "the mirror saw every request",
        Duration::from_secs(5),
        || async { (shadow.requests() == 5).then_some(()) },
    )
    .await;
    assert_eq!(catalog.requests(), 5);
    let (requests, _, failures) = counted(&telemetry, "catalog");
    assert_eq!((requests, failures), (5, 0));
}
