//! Sitejabber as a [`ReviewPlatform`].

use async_trait::async_trait;
use commerce_core::{Error, InvitationReceipt, RatingSummary, ReviewInvitation, ReviewPlatform};

use crate::client::{PROVIDER, SitejabberClient};
use crate::error::ErrorCode;
use crate::product_review_requests::ProductReviewRequest;
use crate::review_requests::ReviewRequest;

/// Whether an error says the request was already there. Sitejabber documents code 304
/// ("Email already exists"); that it is what a repeated request for the same customer gets
/// is *inferred*, so only that code is read this way.
fn already_there(error: &Error) -> bool {
    ErrorCode::of(error) == Some(ErrorCode::EmailAlreadyExists)
}

const REVIEW: &str = "review";
const PRODUCTS: &str = "products";

/// The invitation's SKUs, each once.
fn skus(invitation: &ReviewInvitation) -> Vec<String> {
    let mut skus: Vec<String> = Vec::new();
    for p in &invitation.products {
        let sku = p.sku.trim();
        if !sku.is_empty() && !skus.iter().any(|s| s == sku) {
            skus.push(sku.to_owned());
        }
    }
    skus
}

#[async_trait]
impl ReviewPlatform for SitejabberClient {
    fn name(&self) -> &str {
        PROVIDER.name
    }

    /// Its rate limiter's estimate: how far off the next call's permit is.
    fn ready_in(&self, waiting: usize) -> std::time::Duration {
        self.transport().limiter(None).ready_in_after(waiting)
    }

    /// Sends a review request for the order and, when the invitation names SKUs, a product
    /// review request for them (each SKU once). A request Sitejabber already has (code 304)
    /// counts as sent. The parts already sent by this client are not sent again when the
    /// invitation is retried after the other part failed; across a restart of the process
    /// between the two parts, that memory is gone (Sitejabber offers no look-up): a caller
    /// with a journal sends the parts one by one instead
    /// ([`invitation_parts`](ReviewPlatform::invitation_parts)).
    async fn invite(&self, invitation: &ReviewInvitation) -> Result<InvitationReceipt, Error> {
        let order_id = &invitation.order_id;
        let mut receipt = InvitationReceipt {
            platform: PROVIDER.name.to_owned(),
            reference: Some(order_id.clone()),
            already_invited: true,
        };
        for part in self.invitation_parts(invitation) {
            let name = if part == REVIEW { REVIEW } else { PRODUCTS };
            if self.invitation_part_sent(order_id, name) {
                continue;
            }
            let sent = self.invite_part(&part, invitation).await?;
            self.mark_invitation_part(order_id, name);
            if part == REVIEW {
                receipt.reference = sent.reference;
            }
            receipt.already_invited &= sent.already_invited;
        }
        Ok(receipt)
    }

    /// `review` (the business review request), then `products` when the invitation names
    /// SKUs.
    fn invitation_parts(&self, invitation: &ReviewInvitation) -> Vec<String> {
        let mut parts = vec![REVIEW.to_owned()];
        if !skus(invitation).is_empty() {
            parts.push(PRODUCTS.to_owned());
        }
        parts
    }

    /// `review`: `POST review/request/add`; `products`: `POST product/review/request/add`.
    async fn invite_part(
        &self,
        part: &str,
        invitation: &ReviewInvitation,
    ) -> Result<InvitationReceipt, Error> {
        let customer = &invitation.customer;
        let order_id = &invitation.order_id;
        let order_date = invitation
            .ordered_at
            .unwrap_or_else(chrono::Utc::now)
            .date_naive();
        let mut receipt = InvitationReceipt {
            platform: PROVIDER.name.to_owned(),
            reference: Some(order_id.clone()),
            already_invited: false,
        };
        let result = match part {
            REVIEW => {
                let request = ReviewRequest {
                    email: Some(customer.email.clone()),
                    order_id: order_id.clone(),
                    order_date: Some(order_date),
                    first_name: customer.first_name.clone(),
                    last_name: customer.last_name.clone(),
                    language: customer.language.clone(),
                    product_skus: skus(invitation),
                    ..Default::default()
                };
                self.add_review_request(&request).await.map(|r| {
                    if let Some(link) = r.link {
                        receipt.reference = Some(link);
                    }
                })
            }
            PRODUCTS => {
                let products = ProductReviewRequest {
                    email: customer.email.clone(),
                    product_skus: skus(invitation),
                    order_id: order_id.clone(),
                    order_date: Some(order_date),
                    first_name: customer.first_name.clone(),
                    last_name: customer.last_name.clone(),
                    language: customer.language.clone(),
                    ..Default::default()
                };
                self.add_product_review_request(&products).await.map(drop)
            }
            other => {
                return Err(Error::invalid(
                    "part",
                    format!("Sitejabber invitations have the parts `review` and `products`, not `{other}`"),
                ));
            }
        };
        match result {
            Ok(()) => Ok(receipt),
            Err(e) if already_there(&e) => {
                receipt.already_invited = true;
                Ok(receipt)
            }
            Err(e) => Err(e),
        }
    }

    /// The overall rating and the total number of reviews from the business profile.
    async fn rating_summary(&self) -> Result<Option<RatingSummary>, Error> {
        let business = self.business(&[]).await?;
        Ok(business.overall_rating().map(|average| RatingSummary {
            average,
            scale: 5.0,
            count: business.total_reviews().unwrap_or(0),
        }))
    }
}
