//! Sitejabber's own published example answers decode into our models.
//!
//! The examples are read where they are kept, beside the project (`../shared/fixtures/`),
//! not copied into it. Files ending in `.json.txt` are not valid JSON as published (single
//! quotes, keys inside lists, `....`); our own fixtures in `tests/fixtures/` cover their
//! shapes.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use sitejabber_client::{
    Business, Comment, Message, Partner, Product, ProductReview, ProductReviewRequestReceipt, Review,
    ReviewRequestReceipt,
};

fn examples_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/sitejabber");
    if dir.is_dir() {
        Some(dir)
    } else if std::env::var_os("CI").is_some() {
        panic!(
            "CI runs with shared/ beside the project, but {} is missing",
            dir.display()
        );
    } else {
        eprintln!("skipped: {} is not here", dir.display());
        None
    }
}

fn load(dir: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn decode<T: DeserializeOwned>(name: &str, value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn list<T: DeserializeOwned>(name: &str, value: &serde_json::Value, key: &str) -> Vec<T> {
    let items = value[key]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: no `{key}` list"));
    items.iter().map(|i| decode(name, i.clone())).collect()
}

#[test]
fn every_valid_published_example_decodes() {
    let Some(dir) = examples_dir() else { return };

    let b: Business = decode("business", load(&dir, "get-info-for-a-given-business.json"));
    assert_eq!(b.overall_rating(), Some(1.85));
    assert_eq!(b.total_reviews(), Some(1088));

    let several = load(&dir, "get-info-for-several-businesses.json");
    let businesses: Vec<Business> = list("several", &several, "urls");
    assert!(businesses.len() >= 2);

    let one = load(&dir, "get-a-review-of-a-business.json");
    let review: Review = decode("review", one["review"].clone());
    assert_eq!(review.review_no, Some(1));
    assert_eq!(review.images.len(), 2);
    assert!(
        review.images[0].created_rfc.is_some(),
        "`2020/02/18T08:19:04-07:00`"
    );
    assert_eq!(review.edited, None);

    let comments: Vec<Comment> = list("comments", &load(&dir, "get-review-comments.json"), "comments");
    assert_eq!(comments.len(), 2);
    assert!(comments.iter().all(|c| c.created.is_some()));

    let messages: Vec<Message> = list("messages", &load(&dir, "get-messages.json"), "messages");
    assert!(!messages.is_empty());
    assert!(messages.iter().any(|m| m.review.is_some()));

    let products: Vec<Product> = list("products", &load(&dir, "get-products.json"), "products");
    assert_eq!(products[0].sku, "4770");

    let added = load(&dir, "add-product-review.json");
    let pr: ProductReview = decode("product review", added["product_review"].clone());
    assert_eq!(pr.solicited, Some(true));

    let link: Partner = decode("write link", load(&dir, "get-write-review-link.json"));
    assert_eq!(link.hash.as_deref(), Some("efadba6a49"));
    let receipt: ReviewRequestReceipt = decode("request", load(&dir, "create-review-request.json"));
    assert!(receipt.link.is_some());
    let product_receipt: ProductReviewRequestReceipt = decode(
        "product request",
        load(&dir, "create-product-review-request.json"),
    );
    assert_eq!(product_receipt.links.len(), 3);

    for status_only in [
        "flag-a-review.json",
        "publish-an-unpublished-review.json",
        "add-comment-to-review.json",
        "send-message-to-user.json",
        "send-resolution-message-to-user.json",
        "remove-customer-information.json",
    ] {
        let v = load(&dir, status_only);
        assert_eq!(v["status"], "OK", "{status_only}");
    }
}
