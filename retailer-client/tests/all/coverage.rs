//! Every `operationId` of bol's descriptions has a method, with the same method and path.
//!
//! The descriptions are read where they are kept (`../shared/specs/`), not copied.

use std::collections::BTreeSet;
use std::path::PathBuf;

use retailer_client::OPERATIONS;

fn spec(name: &str) -> Option<serde_json::Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/specs")
        .join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("bol's description is JSON")),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI has shared/ beside the project; {} is missing", path.display())
        }
        Err(_) => {
            eprintln!("skipped: {} is not here", path.display());
            None
        }
    }
}

#[test]
fn every_operation_id_of_the_description_has_a_method() {
    let (Some(retailer), Some(shared)) = (
        spec("bol-retailer-v10.openapi.json"),
        spec("bol-shared.openapi.json"),
    ) else {
        return;
    };
    let mut described = BTreeSet::new();
    for doc in [&retailer, &shared] {
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if let Some(id) = op.get("operationId").and_then(|v| v.as_str()) {
                    described.insert((id.to_owned(), method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
    }
    let covered: BTreeSet<(String, String, String)> = OPERATIONS
        .iter()
        .map(|o| (o.id.to_owned(), o.method.to_owned(), o.path.to_owned()))
        .collect();
    let missing: Vec<_> = described.difference(&covered).collect();
    assert!(missing.is_empty(), "operations without a method: {missing:?}");
    let extra: Vec<_> = covered.difference(&described).collect();
    assert!(
        extra.is_empty(),
        "methods for operations bol no longer describes: {extra:?}"
    );
    assert_eq!(OPERATIONS.len(), 76);
}
