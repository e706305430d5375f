//! The calls a new user makes on the first day, each through one crate's prelude alone.
//! This crate has no direct `commerce-core` (or `futures`) dependency: if a prelude lacks
//! a trait, a type or a stream extension these programs need, they do not compile.

use commerce_sandbox::{Config, Sandbox};

async fn sandbox() -> Sandbox {
    commerce_sandbox::start(Config::default()).await.unwrap()
}

#[test]
fn this_crate_does_not_depend_on_commerce_core() {
    let manifest = include_str!("../Cargo.toml");
    for line in manifest.lines().filter(|l| !l.trim_start().starts_with('#')) {
        assert!(
            !line.starts_with("commerce-core"),
            "a direct commerce-core dependency: {line}"
        );
        assert!(
            !line.starts_with("futures"),
            "a direct futures dependency: {line}"
        );
    }
}

mod bol {
    use retailer_client::prelude::*;

    #[tokio::test]
    async fn open_orders_and_a_shipment() {
        let sb = super::sandbox().await;
        let b = sb.base_urls();
        let bol = RetailerClient::builder(
            commerce_sandbox::RETAILER_CLIENT_ID,
            SecretString::from(commerce_sandbox::RETAILER_CLIENT_SECRET),
        )
        .api_url(b.bol)
        .token_url(b.bol_token)
        .build()
        .unwrap();
        // `SalesChannel` is in scope from the prelude; the stream is `'static`.
        let mut orders = bol.open_orders();
        let order = orders
            .try_next()
            .await
            .unwrap()
            .expect("the sandbox has open orders");
        assert!(!order.lines.is_empty());
        let receipt = bol
            .confirm_shipment(&ShipmentConfirmation {
                order_id: order.id.clone(),
                line_ids: vec![order.lines[0].line_id.clone()],
                tracking: Tracking {
                    carrier: Some("TNT".into()),
                    code: "3SABCD1234567".into(),
                    url: None,
                },
            })
            .await
            .unwrap();
        assert_eq!(receipt.channel, "bol");
        assert_eq!(sb.report().total_duplicates(), 0);
        sb.stop().await;
    }
}

mod sitejabber {
    use sitejabber_client::prelude::*;

    #[tokio::test]
    async fn the_business_and_a_review_stream_that_keeps_going() {
        let sb = super::sandbox().await;
        let client = SitejabberClient::builder(
            commerce_sandbox::SITEJABBER_EMAIL,
            SecretString::from(commerce_sandbox::SITEJABBER_PASSWORD),
        )
        .client_token(SecretString::from(commerce_sandbox::SITEJABBER_CLIENT_TOKEN))
        .domain(commerce_sandbox::SITEJABBER_DOMAIN)
        .base_url(sb.base_urls().sitejabber)
        .build()
        .unwrap();
        assert!(!client.business(&[]).await.unwrap().name.is_empty());
        let mut reviews = client.reviews_stream(ReviewsQuery::default()).take(5);
        let mut read = 0;
        while let Some(item) = reviews.next().await {
            match item {
                Ok(_) => read += 1,
                Err(e) => eprintln!("skipped: {e}"),
            }
        }
        assert!(read > 0);
        sb.stop().await;
    }
}

mod shopwedo {
    use shopwedo_client::prelude::*;

    #[tokio::test]
    async fn stock_through_the_trait_and_an_order() {
        let sb = super::sandbox().await;
        let client = ShopWeDoClient::builder(
            commerce_sandbox::SHOPWEDO_SHOP_ID,
            SecretString::from(commerce_sandbox::SHOPWEDO_SHOP_KEY),
        )
        .base_url(sb.base_urls().shopwedo)
        .build()
        .unwrap();
        let ean = sb.catalogue()[0].ean.clone();
        // `Fulfilment::stock` (by EAN) is not hidden by an inherent method of that name.
        let levels = client.stock(std::slice::from_ref(&ean)).await.unwrap();
        assert_eq!(levels.len(), 1);
        let sku: u64 = levels[0].item_id.parse().unwrap();
        let id = client
            .create_order(&NewOrder {
                external_order_id: "FD-1".into(),
                created_at: chrono::Utc::now().naive_utc(),
                shipping_address: shopwedo_client::Address {
                    street: "Grote Markt".into(),
                    number: "7".into(),
                    zip: "2000".into(),
                    city: "Antwerpen".into(),
                    country_iso2: "BE".into(),
                    email: "an@example.be".into(),
                    phone: "+3231234567".into(),
                    ..Default::default()
                },
                items: vec![OrderItem {
                    sku,
                    amount: 1,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .await
            .unwrap();
        // `Fulfilment::status` by the reference the order got.
        let status = client.status(&id.to_string()).await.unwrap();
        assert_ne!(status.state, FulfilmentState::Cancelled);
        sb.stop().await;
    }
}

mod safeshop {
    use safeshop_client::prelude::*;

    #[tokio::test]
    async fn an_invite_and_the_same_through_the_trait() {
        let sb = super::sandbox().await;
        let client = SafeShopClient::builder(
            commerce_sandbox::SAFESHOP_CLIENT_ID,
            SecretString::from(commerce_sandbox::SAFESHOP_CLIENT_SECRET),
        )
        .base_url(sb.base_urls().safeshop)
        .build()
        .unwrap();
        let outcome = client
            .create_invite(&Invite {
                email: "jan@example.com".into(),
                order_id: "FD-1".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(matches!(outcome, InviteOutcome::Accepted { .. }));
        // `ReviewPlatform::invite` is not hidden by an inherent method of that name.
        let receipt = client
            .invite(&ReviewInvitation {
                order_id: "FD-2".into(),
                customer: Customer {
                    email: "an@example.be".into(),
                    ..Default::default()
                },
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(receipt.platform, "safeshop");
        sb.stop().await;
    }
}

mod customer_api {
    use customer_api_client::prelude::*;

    #[tokio::test]
    async fn a_product_by_code() {
        let sb = super::sandbox().await;
        let client = CustomerApiClient::builder(
            commerce_sandbox::CUSTOMER_API_CLIENT_ID,
            SecretString::from(commerce_sandbox::CUSTOMER_API_CLIENT_SECRET),
        )
        .shop_url(sb.base_urls().customer)
        .build()
        .unwrap();
        let ean = sb.catalogue()[0].ean.clone();
        let found: Result<Vec<_>, Error> = client.products_by_code(&ean).await;
        assert_eq!(found.unwrap().len(), 1);
        sb.stop().await;
    }
}

mod facade {
    use commerce_facade::prelude::*;

    #[tokio::test]
    async fn invitations_through_the_facade() {
        let sb = super::sandbox().await;
        let vars: std::collections::HashMap<&str, String> = sb.env().into_iter().collect();
        let providers = Providers::from_vars(&|name| vars.get(name).cloned()).unwrap();
        assert_eq!(providers.review_platforms.len(), 2);
        let invitation = ReviewInvitation {
            order_id: "FD-3".into(),
            customer: Customer {
                email: "jan@example.com".into(),
                first_name: Some("Jan".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        for platform in &providers.review_platforms {
            let receipt = platform.invite(&invitation).await.unwrap();
            assert_eq!(receipt.platform, platform.name());
        }
        // Nothing configured is an error that says what to set, not an empty set.
        let err = Providers::from_vars(&|_| None).unwrap_err();
        assert!(err.to_string().contains("RETAILER_CLIENT_ID"), "{err}");
        sb.stop().await;
    }
}
