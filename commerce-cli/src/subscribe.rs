//! `commerce subscribe --url URL [--resources ...]` and `commerce subscribe --list`: bol's
//! push notifications to `commerce serve`.

use std::time::Duration;

use retailer_client::RetailerClient;
use retailer_client::push::{Subscription, SubscriptionResource};
use serde_json::json;

use crate::ops::{Out, Store, say, warn};
use crate::{Failure, SubscribeArgs, USAGE};

/// The resources bol's v10 subscriptions take (`SubscriptionRequest.resources`).
pub(crate) const RESOURCES: [&str; 7] = [
    "ORDER",
    "PROCESS_STATUS",
    "SHIPMENT",
    "PRICE_STAR_BOUNDARY",
    "COMPETING_OFFER",
    "OFFER_FOR_SALE",
    "OFFER_NOT_FOR_SALE",
];

/// How long the whole command may take (a subscription and its test each wait for bol's
/// process status).
const LIMIT: Duration = Duration::from_secs(180);

/// Where bol should push to: checked before anything is read or sent (https, or plain
/// http only to a loopback host).
fn checked_url(url: &str) -> Result<String, Failure> {
    let parsed = commerce_core::secure_url(url).map_err(|e| Failure {
        message: format!("--url: {e}"),
        code: USAGE,
    })?;
    if !parsed
        .path()
        .trim_end_matches('/')
        .ends_with(crate::bol::PUSH_PATH)
    {
        warn(&format!(
            "note: `commerce serve` takes bol's pushes at {}; {} must lead there (a reverse proxy may)",
            crate::bol::PUSH_PATH,
            commerce_core::redact(&parsed)
        ));
    }
    Ok(url.trim().to_owned())
}

/// bol's client from the environment, sharing its token and rate budgets with the runners
/// through the journal when there is one.
fn client(store: &Store) -> Result<RetailerClient, Failure> {
    let env = |name: &str| commerce_core::env_optional(name);
    let configured = retailer_client::PROVIDER.configured(&env).map_err(|e| Failure {
        message: e.to_string(),
        code: USAGE,
    })?;
    if !configured {
        return Err(Failure {
            message: format!(
                "bol is not configured in the environment: set {}",
                retailer_client::PROVIDER.required.join(" and ")
            ),
            code: USAGE,
        });
    }
    let shared = crate::run::shared_state_if_any(store)?;
    retailer_client::RetailerClientBuilder::from_vars(&env)
        .and_then(|b| b.shared(shared).build())
        .map_err(|e| Failure {
            message: e.to_string(),
            code: USAGE,
        })
}

fn shown(s: &Subscription) -> serde_json::Value {
    json!({
        "id": s.id,
        "url": s.url,
        "resources": s.resources,
        "type": s.subscription_type,
        "enabled": s.enabled,
    })
}

fn line(s: &Subscription) -> String {
    format!(
        "subscription {}: {} {} ({}), {}",
        s.id,
        s.subscription_type,
        s.url,
        s.resources.join(", "),
        if s.enabled { "enabled" } else { "DISABLED" }
    )
}

/// `commerce subscribe`.
pub(crate) fn subscribe(store: &Store, args: SubscribeArgs, out: Out) -> Result<u8, Failure> {
    let url = args.url.as_deref().map(checked_url).transpose()?;
    let resources: Vec<SubscriptionResource> = args
        .resources
        .iter()
        .map(|r| {
            // The names were checked by the command line (one of [`RESOURCES`]).
            serde_json::from_value(json!(r)).map_err(|e| Failure {
                message: format!("--resources: {r}: {e}"),
                code: USAGE,
            })
        })
        .collect::<Result<_, _>>()?;
    let client = client(store)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let work = async move {
        let Some(url) = url else {
            let subscriptions = client.subscriptions().await?;
            out.print(json!(subscriptions.iter().map(shown).collect::<Vec<_>>()), || {
                if subscriptions.is_empty() {
                    "no subscription: bol pushes nothing (`commerce subscribe --url https://HOST/push/bol`)"
                        .to_owned()
                } else {
                    subscriptions.iter().map(line).collect::<Vec<_>>().join("\n")
                }
            });
            return Ok(0);
        };
        if !out.json {
            say(&format!(
                "subscribing {url} to {} (waiting for bol's process status)",
                args.resources.join(", ")
            ));
        }
        let subscription = client.subscribe(&url, &resources).await?;
        if !out.json {
            say(&format!("{}\nsending bol's test push", line(&subscription)));
        }
        let tested = client.test_subscription(&subscription.id).await;
        let check = "check that `commerce serve` printed `push: accepted TEST:TEST` (bol's test push reached it); \
                     if it did not, check the reverse proxy in front of it and its log for `push: refused`";
        match &tested {
            Ok(()) => out.print(
                json!({"subscription": shown(&subscription), "test": "sent", "check": check}),
                || format!("bol sent its test push to {url}: {check}"),
            ),
            Err(e) => out.print(
                json!({"subscription": shown(&subscription), "test": "failed", "error": e.to_string()}),
                || format!("bol's test push could not be sent: {e}"),
            ),
        }
        Ok(u8::from(tested.is_err()))
    };
    runtime.block_on(async move {
        tokio::time::timeout(LIMIT, work).await.unwrap_or_else(|_| {
            Err(Failure {
                message: format!(
                    "bol did not finish within {} s: `commerce subscribe --list` tells what it has",
                    LIMIT.as_secs()
                ),
                code: 1,
            })
        })
    })
}
