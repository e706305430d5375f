//! Every provider's builder shows no secret in `Debug` (each derives it; `SecretString`
//! redacts itself).

use std::time::Duration;

const SECRET: &str = "S3CR3T-never-shown";

fn secret() -> commerce_core::SecretString {
    SECRET.to_owned().into()
}

#[test]
fn no_builder_shows_a_secret() {
    let shown = [
        format!("{:?}", safeshop_client::SafeShopClient::builder("id-1", secret())),
        format!(
            "{:?}",
            sitejabber_client::SitejabberClient::builder("shop@example.com", secret())
                .client_token(secret())
                .domain("shop.example")
        ),
        format!("{:?}", shopwedo_client::ShopWeDoClient::builder(42, secret())),
        format!(
            "{:?}",
            customer_api_client::CustomerApiClient::builder("id-1", secret())
                .shop_url("https://shop.example")
        ),
        format!(
            "{:?}",
            retailer_client::RetailerClient::builder("id-1", secret()).deadline(Duration::from_secs(5))
        ),
    ];
    for text in shown {
        assert!(!text.contains(SECRET), "{text}");
        assert!(
            text.contains("REDACTED"),
            "the secret field is shown as redacted: {text}"
        );
    }
}
