//! One wire test per endpoint: the real client against httpmock, asserting the exact method,
//! path, query, headers and body Sitejabber documents, and decoding a realistic answer.

use crate::support;

use chrono::NaiveDate;
use futures_util::TryStreamExt;
use httpmock::Method::{GET, POST};
use sitejabber_client::{
    CommentsQuery, Datasource, FlagReason, Folder, MessagesQuery, NewProduct, NewProductReview,
    ProductReviewRequest, ProductReviewsQuery, ProductsQuery, Publication, RatingType, ReviewImageUpload,
    ReviewRequest, ReviewsQuery, SortOrder, StatsQuery, Vote,
};
use support::{Bodies, DOMAIN, USER_TOKEN, authed, biz, client, fixture, server_with_login};

fn ok_json(then: httpmock::Then, name: &str) -> httpmock::Then {
    then.status(200)
        .header("content-type", "application/json")
        .body(fixture(name))
}

#[tokio::test]
async fn login_then_business_info() {
    let server = server_with_login().await;
    let info = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz(""))
                    .query_param("datasources", "bbb,trustpilot"),
            );
            ok_json(then, "business.json");
        })
        .await;
    let c = client(&server);
    c.login().await.unwrap();
    let b = c
        .business(&[Datasource::Bbb, Datasource::Trustpilot])
        .await
        .unwrap();
    info.assert_async().await;
    assert_eq!(b.name, "Fietsenwinkel");
    assert_eq!(b.overall_rating(), Some(4.62));
    assert_eq!(b.total_reviews(), Some(212), "a count sent as a string");
    assert_eq!(b.average_rating[1].rating, Some(4.5));
    assert_eq!(b.average_rating[3].rating, None);
    assert_eq!(
        b.average_rating[5].kind,
        RatingType::Other("sustainability".into())
    );
    assert_eq!(b.phone, None);
    assert_eq!(b.address.unwrap().postal_code.as_deref(), Some("1012 LG"));
    assert_eq!(c.logins(), 1, "login() and the call share one login");
}

#[tokio::test]
async fn businesses_in_bulk_send_a_json_array_and_keep_odd_items_apart() {
    let server = server_with_login().await;
    let bulk = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path("/v1/businesses/bulk")
                    .query_param("businesses", r#"["shop-one.example","shop-two.example"]"#),
            );
            ok_json(then, "businesses.json");
        })
        .await;
    let page = client(&server)
        .businesses(&["shop-one.example", "shop-two.example"])
        .await
        .unwrap();
    bulk.assert_async().await;
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[1].phone.as_deref(), Some("(123) 456-7890"));
    assert_eq!(
        page.errors.len(),
        1,
        "the odd third item is reported, not dropped"
    );
    assert!(page.errors[0].to_string().contains("`[2]`"), "{}", page.errors[0]);

    let too_many: Vec<String> = (0..21).map(|i| format!("s{i}.example")).collect();
    let refs: Vec<&str> = too_many.iter().map(String::as_str).collect();
    let err = client(&server).businesses(&refs).await.unwrap_err();
    assert!(err.is_invalid_input());
}

#[tokio::test]
async fn one_review_with_string_numbers_empty_dates_and_slashed_dates() {
    let server = server_with_login().await;
    let m = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz("review"))
                    .query_param("review_no", "17"),
            );
            ok_json(then, "review.json");
        })
        .await;
    let r = client(&server).review(17).await.unwrap();
    m.assert_async().await;
    assert_eq!(r.review_no, Some(17));
    assert_eq!(r.overall(), Some(5.0));
    assert_eq!(r.positive_votes, Some(2));
    assert_eq!(r.edited, None, "\"\" is no date");
    assert!(matches!(r.published, Some(Publication::Published(_))));
    assert_eq!(
        r.images[0].created,
        NaiveDate::from_ymd_opt(2020, 2, 18)
            .unwrap()
            .and_hms_opt(8, 19, 4)
    );
    assert!(r.images[0].created_rfc.is_some(), "an RFC date with slashes");
    assert_eq!(r.author.unwrap().num_reviews, Some(10));
}

#[tokio::test]
async fn reviews_with_every_filter() {
    let server = server_with_login().await;
    let m = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz("reviews"))
                    .query_param("start", "20")
                    .query_param("count", "50")
                    .query_param("q", "levering")
                    .query_param("labels", "delivery,bike")
                    .query_param("date_from", "2024-01-01 00:00:00")
                    .query_param("date_to", "2024-12-31 23:59:59")
                    .query_param("unpublished", "1")
                    .query_param("updated", "1")
                    .query_param("deleted", "1")
                    .query_param("datasources", "yelp")
                    .query_param("order", "ASC"),
            );
            ok_json(then, "reviews.json");
        })
        .await;
    let query = ReviewsQuery {
        q: Some("levering".into()),
        labels: vec!["delivery".into(), "bike".into()],
        date_from: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap().and_hms_opt(0, 0, 0),
        date_to: NaiveDate::from_ymd_opt(2024, 12, 31)
            .unwrap()
            .and_hms_opt(23, 59, 59),
        unpublished: true,
        updated: true,
        deleted: true,
        datasources: vec![Datasource::Yelp],
        order: Some(SortOrder::Asc),
    };
    let page = client(&server).reviews(&query, 20, 50).await.unwrap();
    m.assert_async().await;
    assert_eq!(page.items.len(), 2);
    let pending = &page.items[0];
    assert!(pending.is_pending(), "published = \"pending\"");
    let original = pending.updated_for.as_ref().unwrap();
    assert_eq!(original.review_no, Some(30));
    assert_eq!(original.rating[1].rating, None);
    assert_eq!(page.items[1].positive_votes, None);
    assert!(page.items[1].images.is_empty(), "images: null");
    assert_eq!(
        page.items[1].author.as_ref().unwrap().email.as_deref(),
        Some("klaas@example.com")
    );
}

#[tokio::test]
async fn the_review_stream_pages_lazily_until_a_short_page() {
    let server = server_with_login().await;
    let full: Vec<serde_json::Value> = (0..100)
        .map(|i| serde_json::json!({"reviewNo": i, "title": format!("r{i}"), "rating": []}))
        .collect();
    let first = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz("reviews"))
                    .query_param("start", "0")
                    .query_param("count", "100"),
            );
            then.status(200)
                .json_body(serde_json::json!({"reviews": full, "status": "OK", "success": true}));
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz("reviews"))
                    .query_param("start", "100")
                    .query_param("count", "100"),
            );
            ok_json(then, "reviews.json");
        })
        .await;
    let c = client(&server);
    let mut stream = c.reviews_stream(ReviewsQuery::default());
    let one = stream.try_next().await.unwrap().unwrap();
    assert_eq!(one.review_no, Some(0));
    first.assert_calls_async(1).await;
    second.assert_calls_async(0).await;
    let rest: Vec<_> = stream.try_collect().await.unwrap();
    assert_eq!(rest.len(), 99 + 2);
    second.assert_calls_async(1).await;
}

#[tokio::test]
async fn publish_and_flag_a_review() {
    let server = server_with_login().await;
    let publish = server
        .mock_async(|when, then| {
            authed(when.method(POST).path(biz("reviews/publish")).body("review_no=2"));
            ok_json(then, "status-ok.json");
        })
        .await;
    let bodies = Bodies::default();
    let flag = server
        .mock_async(|when, then| {
            authed(
                when.method(POST)
                    .path(biz("reviews/flag"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("review_no=2&reason=personal_info&message=Privacy+policy+violation")
                    .is_true(bodies.matcher()),
            );
            ok_json(then, "status-ok.json");
        })
        .await;
    let c = client(&server);
    c.publish_review(2).await.unwrap();
    c.flag_review(2, FlagReason::PersonalInfo, "Privacy policy violation")
        .await
        .unwrap();
    publish.assert_async().await;
    flag.assert_async().await;
    insta::assert_snapshot!("flag_body", bodies.last());
    assert!(
        c.flag_review(2, FlagReason::Other, " ")
            .await
            .unwrap_err()
            .is_invalid_input()
    );
    let codes: Vec<_> = [
        FlagReason::Language,
        FlagReason::PersonalInfo,
        FlagReason::PersonalAttack,
        FlagReason::SecondHand,
        FlagReason::AnotherBusiness,
        FlagReason::Other,
    ]
    .map(FlagReason::code)
    .to_vec();
    assert_eq!(
        codes,
        [
            "language",
            "personal_info",
            "personal_attack",
            "second_hand",
            "another_biz",
            "other"
        ]
    );
}

#[tokio::test]
async fn review_comments_list_stream_and_add() {
    let server = server_with_login().await;
    let list = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz("review/comments"))
                    .query_param("review_no", "12")
                    .query_param("start", "0")
                    .query_param("count", "100")
                    .query_param("updated", "1")
                    .query_param("datasources", "trustpilot"),
            );
            ok_json(then, "comments.json");
        })
        .await;
    let add = server
        .mock_async(|when, then| {
            authed(
                when.method(POST)
                    .path(biz("review/comments/add"))
                    .body("review_no=2&text=my+new+comment"),
            );
            ok_json(then, "status-ok.json");
        })
        .await;
    let c = client(&server);
    let query = CommentsQuery {
        review_no: Some(12),
        updated: true,
        datasources: vec![Datasource::Trustpilot],
        ..Default::default()
    };
    let comments: Vec<_> = c.comments_stream(query).try_collect().await.unwrap();
    list.assert_async().await;
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[0].activated, Some(true));
    assert_eq!(comments[1].activated, Some(false), "\"0\" is false");
    assert_eq!(comments[1].review_no, Some(132));
    assert_eq!(
        comments[1].created,
        NaiveDate::from_ymd_opt(2016, 1, 26)
            .unwrap()
            .and_hms_opt(6, 31, 47)
    );
    c.add_comment(2, "my new comment").await.unwrap();
    add.assert_async().await;
}

#[tokio::test]
async fn resolution_message() {
    let server = server_with_login().await;
    let m = server
        .mock_async(|when, then| {
            authed(
                when.method(POST)
                    .path(biz("resolution/send"))
                    .body("review_no=2&username=jan123&body=my+new+message"),
            );
            ok_json(then, "status-ok.json");
        })
        .await;
    let c = client(&server);
    c.send_resolution(2, "jan123", "my new message").await.unwrap();
    m.assert_async().await;
    assert!(
        c.send_resolution(2, "", "x")
            .await
            .unwrap_err()
            .is_invalid_input()
    );
}

#[tokio::test]
async fn messages_list_and_send() {
    let server = server_with_login().await;
    let list = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz("messages"))
                    .query_param("start", "0")
                    .query_param("count", "10")
                    .query_param("username", "jan123")
                    .query_param("folder", "sent")
                    .query_param("order", "DESC"),
            );
            ok_json(then, "messages.json");
        })
        .await;
    let send = server
        .mock_async(|when, then| {
            authed(
                when.method(POST)
                    .path(biz("message/send"))
                    .body("review_no=2&username=jan123&subject=hello&body=my+new+message"),
            );
            ok_json(then, "status-ok.json");
        })
        .await;
    let c = client(&server);
    let query = MessagesQuery {
        username: Some("jan123".into()),
        folder: Some(Folder::Sent),
        order: Some(SortOrder::Desc),
    };
    let page = c.messages(&query, 0, 10).await.unwrap();
    list.assert_async().await;
    assert_eq!(page.items.len(), 2);
    assert!(page.items[0].review.is_none());
    assert_eq!(page.items[1].review.as_ref().unwrap().overall(), Some(2.0));
    c.send_message(2, "jan123", "hello", "my new message")
        .await
        .unwrap();
    send.assert_async().await;
}

#[tokio::test]
async fn review_requests_add_and_remove() {
    let server = server_with_login().await;
    let bodies = Bodies::default();
    let add = server
        .mock_async(|when, then| {
            authed(
                when.method(POST)
                    .path(biz("review/request/add"))
                    .body(
                        "email=jan%40example.com&order_id=XHS2854&order_date=2017-04-28&first_name=John&\
                         last_name=Doe&labels=bike&location=ams&language=nl&product_skus=4770%2C4771&return_link=1",
                    )
                    .is_true(bodies.matcher()),
            );
            ok_json(then, "review-request.json");
        })
        .await;
    let remove = server
        .mock_async(|when, then| {
            authed(
                when.method(POST)
                    .path(biz("review/request/remove"))
                    .body("email=jan%40example.com&order_id=XHS2854"),
            );
            ok_json(then, "removed.json");
        })
        .await;
    let c = client(&server);
    let receipt = c
        .add_review_request(&ReviewRequest {
            email: Some("jan@example.com".into()),
            order_id: "XHS2854".into(),
            order_date: NaiveDate::from_ymd_opt(2017, 4, 28),
            first_name: Some("John".into()),
            last_name: Some("Doe".into()),
            labels: vec!["bike".into()],
            location: Some("ams".into()),
            language: Some("nl".into()),
            product_skus: vec!["4770".into(), "4771".into()],
            return_link: true,
            ..Default::default()
        })
        .await
        .unwrap();
    add.assert_async().await;
    insta::assert_snapshot!("review_request_body", bodies.last());
    assert_eq!(
        receipt.link.as_deref(),
        Some("https://www.sitejabber.com/requested-review/8f3c2a")
    );
    let removed = c
        .remove_review_request("jan@example.com", Some("XHS2854"))
        .await
        .unwrap();
    remove.assert_async().await;
    assert_eq!(removed, vec!["FW-20455".to_owned(), "20456".to_owned()]);
}

#[tokio::test]
async fn a_review_request_is_validated_before_sending() {
    let server = server_with_login().await;
    let c = client(&server);
    let err = c
        .add_review_request(&ReviewRequest {
            email: Some("not-an-email".into()),
            order_id: " ".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    insta::assert_snapshot!("review_request_invalid", err);
    assert_eq!(c.logins(), 0, "nothing was sent, not even the login");
    let by_phone = c
        .add_review_request(&ReviewRequest {
            phone: Some("".into()),
            order_id: "A".into(),
            order_date: NaiveDate::from_ymd_opt(2024, 1, 1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(by_phone.field_errors()[0].field, "phone");
}

#[tokio::test]
async fn write_and_edit_review_links() {
    let server = server_with_login().await;
    let write = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(format!("/v1/partners/{DOMAIN}/write-link/get")),
            );
            ok_json(then, "write-link.json");
        })
        .await;
    let edit = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(format!("/v1/partners/{DOMAIN}/edit-link/get"))
                    .query_param("email", "jan@example.com"),
            );
            ok_json(then, "edit-link.json");
        })
        .await;
    let c = client(&server);
    let link = c.write_review_link().await.unwrap();
    assert_eq!(link.hash.as_deref(), Some("efadba6a49"));
    assert_eq!(
        link.expire,
        NaiveDate::from_ymd_opt(2018, 1, 13)
            .unwrap()
            .and_hms_opt(10, 48, 37)
    );
    let edit_link = c.edit_review_link("jan@example.com").await.unwrap();
    assert!(edit_link.ends_with("/1295"));
    write.assert_async().await;
    edit.assert_async().await;
}

#[tokio::test]
async fn products_list_add_remove_and_image() {
    let server = server_with_login().await;
    let list = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz("products"))
                    .query_param("start", "0")
                    .query_param("count", "100")
                    .query_param("brand", "Gazelle")
                    .query_param("categories", "Fietsen,Stad")
                    .query_param("price_range", "100,900")
                    .query_param("reviews_range", "1,50")
                    .query_param("gtin", "8712345678906"),
            );
            ok_json(then, "products.json");
        })
        .await;
    let bodies = Bodies::default();
    let add = server
        .mock_async(|when, then| {
            authed(
                when.method(POST)
                    .path(biz("products/add"))
                    .body(
                        "sku=4476&title=playstation&brand=sony&categories=games%2Cps3&price=129&attributes=\
                         pros%3Ausability%2Cautomatic%2Ccontrol%7Ccons%3Aslow%2Cbig",
                    )
                    .is_true(bodies.matcher()),
            );
            ok_json(then, "status-ok.json");
        })
        .await;
    let remove = server
        .mock_async(|when, then| {
            authed(
                when.method(POST)
                    .path(biz("products/remove"))
                    .body("product_id=32"),
            );
            ok_json(then, "status-ok.json");
        })
        .await;
    let image = server
        .mock_async(|when, then| {
            authed(
                when.method(POST)
                    .path(biz("product/images/add"))
                    .body("sku=4770&image=https%3A%2F%2Fimg.example%2F4770.jpg"),
            );
            ok_json(then, "status-ok.json");
        })
        .await;
    let c = client(&server);
    let query = ProductsQuery {
        brand: Some("Gazelle".into()),
        categories: vec!["Fietsen".into(), "Stad".into()],
        price_range: Some((100.0, 900.0)),
        reviews_range: Some((1.0, 50.0)),
        gtin: Some("8712345678906".into()),
        ..Default::default()
    };
    let products: Vec<_> = c.products_stream(query).try_collect().await.unwrap();
    list.assert_async().await;
    assert_eq!(products.len(), 2);
    assert_eq!(products[0].num_reviews, Some(26));
    assert_eq!(products[0].average_rating, Some(4.54));
    assert_eq!(products[1].sku, "4771", "a SKU sent as a number");
    assert_eq!(products[1].price, Some(9.95));
    assert_eq!(products[1].created, None);
    c.add_product(&NewProduct {
        sku: "4476".into(),
        title: "playstation".into(),
        brand: Some("sony".into()),
        categories: vec!["games".into(), "ps3".into()],
        price: Some(129.0),
        attributes: Some("pros:usability,automatic,control|cons:slow,big".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    add.assert_async().await;
    insta::assert_snapshot!("add_product_body", bodies.last());
    c.remove_product(32).await.unwrap();
    remove.assert_async().await;
    c.add_product_image("4770", "https://img.example/4770.jpg")
        .await
        .unwrap();
    image.assert_async().await;
    assert!(
        c.add_product(&NewProduct::default())
            .await
            .unwrap_err()
            .field_errors()
            .len()
            == 2
    );
}

#[tokio::test]
async fn product_reviews_list_with_filters() {
    let server = server_with_login().await;
    let m = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz("product/reviews"))
                    .query_param("start", "0")
                    .query_param("count", "25")
                    .query_param("item_group", "4770_group")
                    .query_param("only_photos", "1")
                    .query_param("date_from", "2019-01-01 00:00:00"),
            );
            ok_json(then, "product-reviews.json");
        })
        .await;
    let query = ProductReviewsQuery {
        item_group: Some("4770_group".into()),
        only_photos: true,
        date_from: NaiveDate::from_ymd_opt(2019, 1, 1).unwrap().and_hms_opt(0, 0, 0),
        ..Default::default()
    };
    let page = client(&server).product_reviews(&query, 0, 25).await.unwrap();
    m.assert_async().await;
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].solicited, Some(true), "\"Yes\"");
    assert_eq!(page.items[1].solicited, Some(false), "\"No\"");
    assert_eq!(page.items[1].rating, Some(4.0));
    assert_eq!(page.items[1].published, None);
    assert_eq!(page.items[0].product.as_ref().unwrap().sku, "4770");
}

#[tokio::test]
async fn the_product_review_stream_pages_too() {
    let server = server_with_login().await;
    let m = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz("product/reviews"))
                    .query_param("sku", "4770"),
            );
            ok_json(then, "product-reviews.json");
        })
        .await;
    let c = client(&server);
    let all: Vec<_> = c
        .product_reviews_stream(ProductReviewsQuery {
            sku: Some("4770".into()),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    m.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_product_review_is_multipart_with_files_urls_and_captions() {
    let server = server_with_login().await;
    let bodies = Bodies::default();
    let m = server
        .mock_async(|when, then| {
            authed(
                when.method(POST)
                    .path(biz("product/reviews/add"))
                    .is_true(|req| {
                        req.headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .is_some_and(|ct| ct.starts_with("multipart/form-data; boundary="))
                    })
                    .body_includes("name=\"image1\"; filename=\"flowers.jpg\"\r\nContent-Type: image/jpeg\r\n\r\nJPEG-BYTES")
                    .body_includes("name=\"image2\"\r\n\r\nhttps://img.example/more.jpg\r\n")
                    .is_true(bodies.matcher()),
            );
            ok_json(then, "product-review-added.json");
        })
        .await;
    let review = NewProductReview {
        sku: "26".into(),
        title: "playstation".into(),
        content: "very good".into(),
        rating: 5,
        order_id: Some("FW-88".into()),
        email: Some("mila@example.com".into()),
        images: vec![
            (
                ReviewImageUpload::File {
                    bytes: b"JPEG-BYTES".to_vec(),
                    filename: "flowers.jpg".into(),
                    mime: "image/jpeg".into(),
                },
                Some("my flowers".into()),
            ),
            (
                ReviewImageUpload::Url("https://img.example/more.jpg".into()),
                Some("more flowers".into()),
            ),
        ],
        ..Default::default()
    };
    let added = client(&server).add_product_review(&review).await.unwrap();
    m.assert_async().await;
    assert_eq!(added.id, Some(30001));
    assert_eq!(added.images[0].caption.as_deref(), Some("Mijn fiets"));
    let body = bodies.last();
    let boundary = body.lines().next().unwrap().trim().to_owned();
    insta::assert_snapshot!(
        "product_review_multipart",
        body.replace(&boundary, "--BOUNDARY").replace("\r\n", "\n")
    );
    let bad = NewProductReview { rating: 6, ..review };
    assert_eq!(
        client(&server)
            .add_product_review(&bad)
            .await
            .unwrap_err()
            .field_errors()[0]
            .field,
        "rating"
    );
}

#[tokio::test]
async fn vote_top_rated_and_stats() {
    let server = server_with_login().await;
    let vote = server
        .mock_async(|when, then| {
            authed(
                when.method(POST)
                    .path(biz("product/reviews/vote"))
                    .body("review_id=22&vote=positive"),
            );
            ok_json(then, "status-ok.json");
        })
        .await;
    let top = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz("product/reviews/top-rated"))
                    .query_param("category_name", "Fietsen")
                    .query_param("currency", "CAD"),
            );
            ok_json(then, "top-rated.json");
        })
        .await;
    let stats = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz("product/reviews/stats"))
                    .query_param("categories", "Fietsen,Sloten")
                    .query_param("brand", "Gazelle"),
            );
            ok_json(then, "stats.json");
        })
        .await;
    let c = client(&server);
    c.vote_product_review(22, Vote::Positive).await.unwrap();
    vote.assert_async().await;
    let products = c.top_rated_products(Some("Fietsen"), Some("CAD")).await.unwrap();
    top.assert_async().await;
    assert_eq!(products.items[1].category_name.as_deref(), Some("Sloten"));
    let s = c
        .product_review_stats(&StatsQuery {
            categories: vec!["Fietsen".into(), "Sloten".into()],
            brand: Some("Gazelle".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    stats.assert_async().await;
    assert_eq!((s[0].total, s[0].average_rating), (Some(55), Some(4.85)));
    assert_eq!(s[0].ratings.get("5"), Some(&48));
}

#[tokio::test]
async fn product_review_requests_add_and_remove() {
    let server = server_with_login().await;
    let bodies = Bodies::default();
    let add = server
        .mock_async(|when, then| {
            authed(
                when.method(POST)
                    .path(biz("product/review/request/add"))
                    .body(
                        "email=jan%40example.com&product_skus=4770%2C4771&order_id=XHS2854&order_date=2017-04-28&\
                         first_name=John&last_name=Doe&return_link=1",
                    )
                    .is_true(bodies.matcher()),
            );
            ok_json(then, "product-review-request.json");
        })
        .await;
    let remove = server
        .mock_async(|when, then| {
            authed(
                when.method(POST)
                    .path(biz("product/review/request/remove"))
                    .body("email=jan%40example.com&product_sku=4770&order_id=XHS2854"),
            );
            ok_json(then, "removed.json");
        })
        .await;
    let c = client(&server);
    let receipt = c
        .add_product_review_request(&ProductReviewRequest {
            email: "jan@example.com".into(),
            product_skus: vec!["4770".into(), "4771".into()],
            order_id: "XHS2854".into(),
            order_date: NaiveDate::from_ymd_opt(2017, 4, 28),
            first_name: Some("John".into()),
            last_name: Some("Doe".into()),
            return_link: true,
            ..Default::default()
        })
        .await
        .unwrap();
    add.assert_async().await;
    insta::assert_snapshot!("product_review_request_body", bodies.last());
    assert_eq!(receipt.links.len(), 2);
    let removed = c
        .remove_product_review_request("jan@example.com", Some("4770"), Some("XHS2854"))
        .await
        .unwrap();
    remove.assert_async().await;
    assert_eq!(removed.len(), 2);
    let err = c
        .add_product_review_request(&ProductReviewRequest {
            email: "jan@example.com".into(),
            order_id: "A".into(),
            order_date: NaiveDate::from_ymd_opt(2017, 4, 28),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.field_errors()[0].field, "product_skus");
}

#[tokio::test]
async fn customer_information_access_and_removal() {
    let server = server_with_login().await;
    let access = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz("privacy/access"))
                    .query_param("email", "jan@example.com"),
            );
            ok_json(then, "customer-information.json");
        })
        .await;
    let remove = server
        .mock_async(|when, then| {
            authed(
                when.method(POST)
                    .path(biz("privacy/remove"))
                    .body("email=jan%40example.com"),
            );
            ok_json(then, "status-ok.json");
        })
        .await;
    let c = client(&server);
    let info = c.customer_information("jan@example.com").await.unwrap();
    access.assert_async().await;
    assert_eq!(info.categories["Identifiers"]["name"], "Jan Visser");
    c.remove_customer_information("jan@example.com").await.unwrap();
    remove.assert_async().await;
    assert!(
        c.customer_information("jan")
            .await
            .unwrap_err()
            .is_invalid_input()
    );
}

#[tokio::test]
async fn every_call_carries_the_user_token_from_one_login() {
    let server = server_with_login().await;
    let m = server
        .mock_async(|when, then| {
            when.method(GET).path(biz("")).header("user_token", USER_TOKEN);
            ok_json(then, "business.json");
        })
        .await;
    let c = client(&server);
    let clones: Vec<_> = (0..5).map(|_| c.clone()).collect();
    for c in &clones {
        c.business(&[]).await.unwrap();
    }
    m.assert_calls_async(5).await;
    assert_eq!(c.logins(), 1);
}

#[tokio::test]
async fn questions_and_product_questions() {
    let server = server_with_login().await;
    let questions = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz("questions"))
                    .query_param("start", "0")
                    .query_param("count", "100"),
            );
            ok_json(then, "questions.json");
        })
        .await;
    let product = server
        .mock_async(|when, then| {
            authed(
                when.method(GET)
                    .path(biz("product/questions"))
                    .query_param("sku", "4770")
                    .query_param("start", "0")
                    .query_param("count", "20"),
            );
            ok_json(then, "product-questions.json");
        })
        .await;
    let c = client(&server);
    let all: Vec<_> = c.questions_stream().try_collect().await.unwrap();
    questions.assert_async().await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].answers[0].content, "Ja, binnen 3 werkdagen.");
    assert_eq!(all[0].sum_votes, Some(0));
    let page = c.product_questions(Some("4770"), 0, 20).await.unwrap();
    product.assert_async().await;
    assert_eq!(
        page.items[0].product.as_ref().unwrap().gtin.as_deref(),
        Some("8712345678906")
    );
    assert_eq!(page.items[0].removed, Some(false));
}
