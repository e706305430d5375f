//! bol's push notifications in `commerce serve`: the deliveries' verifier
//! ([`retailer_client::push::PushKeys`]) and the hourly look at bol's subscriptions that
//! tells the flow whether pushes arrive.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use commerce_facade::{EventRecord, FlowWaker};
use retailer_client::RetailerClient;
use retailer_client::push::{Delivery, PushKeys, PushRefusal, Subscription};

use crate::ops::{Out, say, warn};
use crate::serve::{Refused, Verified, Verify};

/// How often bol's subscriptions are looked at while serving.
pub(crate) const SUBSCRIPTION_CHECK: Duration = Duration::from_secs(3600);

/// How long one look at the subscriptions may take.
const SUBSCRIPTION_LIMIT: Duration = Duration::from_secs(60);

/// The least time between two looks at the subscriptions asked for by deliveries.
const RECHECK_AFTER: Duration = Duration::from_secs(60);

/// The path `commerce serve` takes bol's pushes at.
pub(crate) const PUSH_PATH: &str = "/push/bol";

/// bol's deliveries, verified with the signature keys bol lists.
pub(crate) struct BolVerifier(pub(crate) PushKeys);

/// The event a verified delivery becomes: its id and kind as bol sent them, the raw body.
pub(crate) fn record_of(delivery: &Delivery, body: &[u8], now: DateTime<Utc>) -> EventRecord {
    EventRecord {
        id: delivery.id.clone(),
        channel: "bol".to_owned(),
        kind: delivery.event_kind(),
        resource_id: delivery.resource_id.clone(),
        received_at: now,
        handled_at: None,
        // Verified JSON is UTF-8 (the verifier parsed it).
        body: String::from_utf8_lossy(body).into_owned(),
    }
}

/// The answer to a refused delivery: 413 too large, 503 when bol should deliver again (the
/// keys could not be read), 401 a signature that does not hold; 200 for one bol signed that
/// does not read or is too old (or from the future): never acted on, but refusing bol's own
/// delivery would only have it sent ten more times and the subscription disabled.
pub(crate) fn refused(refusal: &PushRefusal) -> Refused {
    let status = if refusal.retry_later() {
        StatusCode::SERVICE_UNAVAILABLE
    } else if refusal.signed() {
        StatusCode::OK
    } else {
        match refusal {
            PushRefusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            PushRefusal::NoSignature
            | PushRefusal::MalformedSignature(_)
            | PushRefusal::UnsupportedAlgorithm(_)
            | PushRefusal::UnknownKey(_)
            | PushRefusal::BadSignature => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        }
    };
    Refused {
        status,
        code: refusal.code(),
        reason: refusal.to_string(),
    }
}

impl Verify for BolVerifier {
    fn verify<'a>(
        &'a self,
        body: &'a [u8],
        headers: &'a HeaderMap,
        now: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = Result<Verified, Refused>> + Send + 'a>> {
        Box::pin(async move {
            match self.0.verify(body, headers, now).await {
                Ok(delivery) => Ok(Verified {
                    record: record_of(&delivery, body, now),
                }),
                Err(refusal) => Err(refused(&refusal)),
            }
        })
    }
}

/// Until when pushes are not counted on because bol's own (signed) deliveries did not read:
/// shared by the push route (which sets it) and the subscription check (which honours it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Distrust(Arc<std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>>);

impl Distrust {
    /// How long pushes are not counted on after a signed delivery that did not read.
    pub(crate) const FOR: Duration = Duration::from_secs(3600);

    /// Not counted on for [`Self::FOR`] from now.
    pub(crate) fn now(&self) {
        let until = chrono::Utc::now() + chrono::Duration::from_std(Self::FOR).unwrap_or_default();
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(until);
    }

    /// Until when, if still.
    pub(crate) fn until(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let until = *self.0.lock().unwrap_or_else(|p| p.into_inner());
        until.filter(|u| *u > chrono::Utc::now())
    }
}

/// Whether a subscription sends to `commerce serve`: a WEBHOOK to a URL whose path ends
/// in `/push/bol`.
fn is_ours(s: &Subscription) -> bool {
    s.subscription_type.eq_ignore_ascii_case("WEBHOOK")
        && url::Url::parse(s.url.trim()).is_ok_and(|u| u.path().trim_end_matches('/').ends_with(PUSH_PATH))
}

/// What the subscriptions say of pushes: `Ok(line)` they arrive (an enabled one with
/// ORDER), `Err(warning)` they do not, with the command that mends it.
pub(crate) fn judge(subscriptions: &[Subscription]) -> Result<String, String> {
    let ours: Vec<&Subscription> = subscriptions.iter().filter(|s| is_ours(s)).collect();
    let fallback = "new orders are looked for every --poll-interval";
    if let Some(s) = ours
        .iter()
        .find(|s| s.enabled && s.resources.iter().any(|r| r.eq_ignore_ascii_case("ORDER")))
    {
        return Ok(format!(
            "bol pushes {} to {} (subscription {}): new orders are looked for every --event-poll-interval",
            s.resources.join(", "),
            s.url,
            s.id
        ));
    }
    Err(match ours.first() {
        Some(s) if !s.enabled => format!(
            "warning: bol's subscription {} to {} is disabled (bol disables one whose deliveries failed for ten \
             minutes): {fallback}. Once this server is reachable there, run `commerce subscribe --url {}`",
            s.id, s.url, s.url
        ),
        Some(s) => format!(
            "warning: bol's subscription {} to {} does not include ORDER: {fallback}. Run `commerce subscribe --url \
             {}`",
            s.id, s.url, s.url
        ),
        None => {
            let elsewhere: Vec<&str> = subscriptions
                .iter()
                .filter(|s| s.enabled && s.subscription_type.eq_ignore_ascii_case("WEBHOOK"))
                .map(|s| s.url.as_str())
                .collect();
            let others = if elsewhere.is_empty() {
                String::new()
            } else {
                format!(
                    " (bol pushes to {}: not a {PUSH_PATH} address, so not counted on here; `commerce subscribe` \
                     adds a subscription, it leaves those alone)",
                    elsewhere.join(", ")
                )
            };
            format!(
                "warning: bol pushes nothing to a {PUSH_PATH} URL{others}: {fallback}. Run `commerce subscribe \
                 --url https://YOUR-HOST{PUSH_PATH}` (the reverse proxy in front of this server)"
            )
        }
    })
}

/// At start, every [`SUBSCRIPTION_CHECK`], and when `recheck` is notified (a verified
/// delivery arrived while pushes were not counted on: `commerce subscribe` was run; at most
/// every [`RECHECK_AFTER`]): bol's subscriptions decide whether the flow counts on pushes
/// ([`FlowWaker::set_push_active`]); a missing or disabled one is warned about with the
/// command to run. Ends when `stopped` returns.
pub(crate) async fn watch_subscriptions(
    client: RetailerClient,
    waker: FlowWaker,
    recheck: Arc<tokio::sync::Notify>,
    distrust: Distrust,
    out: Out,
    closed: Arc<AtomicBool>,
    stopped: impl Future<Output = ()> + Send + 'static,
) {
    tokio::pin!(stopped);
    let mut last: Option<Result<String, String>> = None;
    let mut warned_at: Option<tokio::time::Instant> = None;
    loop {
        let verdict = match tokio::time::timeout(SUBSCRIPTION_LIMIT, client.subscriptions()).await {
            Ok(Ok(subscriptions)) => judge(&subscriptions),
            Ok(Err(e)) => Err(format!(
                "warning: bol's subscriptions could not be listed ({e}): pushes are not counted on; new orders are \
                 looked for every --poll-interval"
            )),
            Err(_) => Err(format!(
                "warning: bol's subscriptions could not be listed within {} s: pushes are not counted on; new \
                 orders are looked for every --poll-interval",
                SUBSCRIPTION_LIMIT.as_secs()
            )),
        };
        // Deliveries bol signed that did not read: not counted on for a while, whatever the
        // subscription says.
        let verdict = match (verdict, distrust.until()) {
            (Ok(_), Some(until)) => Err(format!(
                "warning: bol's deliveries reach this server but do not read as documented (see the `push: \
                 refused (malformed)` lines): pushes are not counted on until {} UTC; new orders are looked for \
                 every --poll-interval",
                until.format("%H:%M")
            )),
            (verdict, _) => verdict,
        };
        waker.set_push_active(verdict.is_ok());
        // Said when it changes, and a warning at most every hour while it lasts (a re-check
        // may come every minute).
        let changed = last.as_ref() != Some(&verdict);
        let warn_again = warned_at.is_none_or(|at| at.elapsed() >= SUBSCRIPTION_CHECK);
        if changed || (verdict.is_err() && warn_again) {
            if verdict.is_err() {
                warned_at = Some(tokio::time::Instant::now());
            }
            match &verdict {
                Ok(line) if !closed.load(Ordering::SeqCst) => {
                    if out.json {
                        say(&serde_json::json!({"event": "push_active", "message": line}).to_string());
                    } else {
                        say(line);
                    }
                }
                Ok(_) => {}
                Err(warning) => {
                    warn(warning);
                }
            }
        }
        last = Some(verdict);
        let checked = tokio::time::Instant::now();
        tokio::select! {
            () = tokio::time::sleep(SUBSCRIPTION_CHECK) => {}
            () = async {
                recheck.notified().await;
                tokio::time::sleep_until(checked + RECHECK_AFTER).await;
            } => {}
            () = &mut stopped => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(id: &str, url: &str, enabled: bool, resources: &[&str]) -> Subscription {
        Subscription {
            id: id.to_owned(),
            resources: resources.iter().map(|r| (*r).to_owned()).collect(),
            url: url.to_owned(),
            subscription_type: "WEBHOOK".to_owned(),
            enabled,
        }
    }

    #[test]
    fn pushes_count_only_with_an_enabled_subscription_of_orders_to_push_bol() {
        let ok = judge(&[sub(
            "1",
            "https://shop.example/push/bol",
            true,
            &["ORDER", "PROCESS_STATUS"],
        )]);
        assert!(ok.unwrap().contains("subscription 1"));
        let none = judge(&[sub("2", "https://shop.example/other", true, &["ORDER"])]).unwrap_err();
        assert!(
            none.contains("commerce subscribe --url https://YOUR-HOST/push/bol"),
            "{none}"
        );
        // The webhook bol does push to is named, and said to be left alone.
        assert!(
            none.contains("bol pushes to https://shop.example/other: not a /push/bol address"),
            "{none}"
        );
        let disabled = judge(&[sub("3", "https://shop.example/push/bol", false, &["ORDER"])]).unwrap_err();
        assert!(disabled.contains("is disabled"), "{disabled}");
        assert!(
            disabled.contains("`commerce subscribe --url https://shop.example/push/bol`"),
            "{disabled}"
        );
        let no_orders = judge(&[sub("4", "https://shop.example/push/bol", true, &["SHIPMENT"])]).unwrap_err();
        assert!(no_orders.contains("does not include ORDER"), "{no_orders}");
        let mut gcp = sub("5", "https://shop.example/push/bol", true, &["ORDER"]);
        gcp.subscription_type = "GCP_PUBSUB".to_owned();
        assert!(judge(&[gcp]).is_err());
        assert!(judge(&[]).is_err());
    }

    #[test]
    fn a_distrust_lasts_an_hour() {
        let distrust = Distrust::default();
        assert!(distrust.until().is_none());
        distrust.now();
        let until = distrust.until().expect("set");
        let left = until - chrono::Utc::now();
        assert!(
            left > chrono::Duration::minutes(59) && left <= chrono::Duration::minutes(60),
            "{left}"
        );
    }
}
