//! The sandbox's answers against the providers' own documented examples
//! (`../shared/fixtures/sitejabber`: Sitejabber's example answers): every field an
//! example has is in the sandbox's answer, with the same JSON type, nested objects and the
//! first element of lists included. (bol's answers are checked against bol's OpenAPI
//! description in `bol_conformance.rs`; the clients decode the same examples in their own
//! tests.)

use crate::support;

use std::path::PathBuf;

use commerce_sandbox::*;
use serde_json::Value;

fn fixture(name: &str) -> Option<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/sitejabber");
    let text = std::fs::read_to_string(dir.join(name)).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Where `answer` departs from `example`: a field missing, or of another type (a null on
/// either side is a value the example or the answer did not have, not a type).
fn compare(example: &Value, answer: &Value, path: &str, problems: &mut Vec<String>) {
    match (example, answer) {
        // A map keyed by ids (the example's keys are its own SKUs): its values' type.
        (Value::Object(e), Value::Object(a))
            if !e.is_empty() && e.keys().all(|k| k.parse::<u64>().is_ok()) =>
        {
            if let (Some(ev), Some(av)) = (e.values().next(), a.values().next()) {
                compare(ev, av, &format!("{path}.*"), problems);
            }
        }
        (Value::Object(e), Value::Object(a)) => {
            for (key, ev) in e {
                match a.get(key) {
                    Some(av) => compare(ev, av, &format!("{path}.{key}"), problems),
                    None => problems.push(format!("{path}.{key}: in the example, not in the answer")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(e0), Some(a0)) = (e.first(), a.first()) {
                compare(e0, a0, &format!("{path}[0]"), problems);
            }
        }
        (e, a) if e.is_null() || a.is_null() => {}
        (e, a) if kind(e) != kind(a) => problems.push(format!(
            "{path}: the example has a {} ({e}), the answer a {} ({a})",
            kind(e),
            kind(a)
        )),
        _ => {}
    }
}

#[tokio::test]
async fn sitejabber_answers_have_the_fields_of_sitejabbers_examples() {
    let Some(business_example) = fixture("get-info-for-a-given-business.json") else {
        eprintln!("skipped: ../shared/fixtures is not beside the workspace");
        return;
    };
    let sb = start(Config::default()).await.unwrap();
    let base = sb.base_urls().sitejabber;
    let c = reqwest::Client::new();
    let ct = support::sitejabber_client_token();
    let user = support::sitejabber_login(&c, &sb).await;
    let get = |path: String| {
        let (c, user) = (c.clone(), user.clone());
        async move {
            c.get(path)
                .header("user_token", user)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let (c, user) = (c.clone(), user.clone());
        async move {
            c.post(path)
                .header("user_token", user)
                .form(&form)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let d = SITEJABBER_DOMAIN;
    let sku = sb.catalogue()[0].shop_sku.clone();
    let cases = vec![
        (
            "get-info-for-a-given-business.json",
            business_example,
            get(format!("{base}businesses/{d}?{ct}")).await,
        ),
        (
            "get-products.json",
            fixture("get-products.json").unwrap(),
            get(format!("{base}businesses/{d}/products?{ct}&start=0&count=5")).await,
        ),
        (
            "create-review-request.json",
            fixture("create-review-request.json").unwrap(),
            post(
                format!("{base}businesses/{d}/review/request/add?{ct}"),
                vec![
                    ("email", "jan@example.com".into()),
                    ("order_id", "A-1".into()),
                    ("order_date", "2026-11-20".into()),
                ],
            )
            .await,
        ),
        (
            "create-product-review-request.json",
            fixture("create-product-review-request.json").unwrap(),
            post(
                format!("{base}businesses/{d}/product/review/request/add?{ct}"),
                vec![
                    ("email", "jan@example.com".into()),
                    ("order_id", "A-1".into()),
                    ("order_date", "2026-11-20".into()),
                    ("product_skus", sku),
                ],
            )
            .await,
        ),
    ];
    let mut problems = Vec::new();
    for (name, example, answer) in &cases {
        compare(example, answer, name, &mut problems);
    }
    assert!(
        problems.is_empty(),
        "{} departures from Sitejabber's examples:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(sb.report().total_violations(), 0, "{:#?}", sb.report());
}
