//! Shared by the facade's tests and benchmarks: providers built against a sandbox.
#![allow(dead_code)]

use commerce_core::HttpClient;
use commerce_facade::Providers;
use commerce_sandbox::{BaseUrls, Sandbox};

/// All five providers against `sb`, every client on `http`.
///
/// With [`commerce_core::testing::paused_time_http`] (no per-attempt time limit, no idle
/// pool) the whole flow runs in paused tokio time: the sandbox keeps its clocks with
/// `tokio::time::Instant`, so rate windows, token lifetimes and `Retry-After` waits all pass
/// in simulated time, and an hour of provider limits costs only the CPU it needs.
pub fn providers_on(sb: &Sandbox, http: &HttpClient) -> Providers {
    sweep_sandbox_secrets();
    let b: BaseUrls = sb.base_urls();
    let bol = retailer_client::RetailerClient::builder(
        commerce_sandbox::RETAILER_CLIENT_ID,
        commerce_sandbox::RETAILER_CLIENT_SECRET.into(),
    )
    .api_url(b.bol)
    .token_url(b.bol_token)
    .http(http.clone())
    .build()
    .unwrap();
    let shopwedo = shopwedo_client::ShopWeDoClient::builder(
        commerce_sandbox::SHOPWEDO_SHOP_ID,
        commerce_sandbox::SHOPWEDO_SHOP_KEY.into(),
    )
    .base_url(b.shopwedo)
    .http(http.clone())
    .build()
    .unwrap();
    let customer = customer_api_client::CustomerApiClient::builder(
        b.customer,
        commerce_sandbox::CUSTOMER_API_CLIENT_ID,
        commerce_sandbox::CUSTOMER_API_CLIENT_SECRET.into(),
    )
    .http(http.clone())
    .build()
    .unwrap();
    let safeshop = safeshop_client::SafeShopClient::builder(
        commerce_sandbox::SAFESHOP_CLIENT_ID,
        commerce_sandbox::SAFESHOP_CLIENT_SECRET.into(),
    )
    .base_url(b.safeshop)
    .http(http.clone())
    .build()
    .unwrap();
    let sitejabber = sitejabber_client::SitejabberClient::builder(
        commerce_sandbox::SITEJABBER_CLIENT_TOKEN.into(),
        commerce_sandbox::SITEJABBER_EMAIL,
        commerce_sandbox::SITEJABBER_PASSWORD.into(),
        commerce_sandbox::SITEJABBER_DOMAIN,
    )
    .base_url(b.sitejabber)
    .http(http.clone())
    .build()
    .unwrap();
    Providers::new()
        .channel(bol)
        .fulfilment(shopwedo)
        .fulfilment(customer)
        .review_platform(safeshop)
        .review_platform(sitejabber)
}

/// A size from the environment variable `name`, else `default` (the soaks run reduced in
/// `cargo test` and full size through `cargo xtask soak`).
pub fn size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Notes the sandbox's credentials for the TRACE secret sweep (`cargo xtask sweep`).
pub fn sweep_sandbox_secrets() {
    commerce_core::testing::sweep::install(&[
        commerce_sandbox::SAFESHOP_CLIENT_SECRET,
        commerce_sandbox::SITEJABBER_CLIENT_TOKEN,
        commerce_sandbox::SITEJABBER_PASSWORD,
        commerce_sandbox::SHOPWEDO_SHOP_KEY,
        commerce_sandbox::CUSTOMER_API_CLIENT_SECRET,
        commerce_sandbox::RETAILER_CLIENT_SECRET,
    ]);
}
