//! Sitejabber as a [`ReviewPlatform`].

use async_trait::async_trait;
use commerce_core::{Error, InvitationReceipt, RatingSummary, ReviewInvitation, ReviewPlatform};

use crate::api::{ProductReviewRequest, ReviewRequest};
use crate::client::{PROVIDER, SitejabberClient};
use crate::error::ErrorCode;

/// Whether an error says the request was already there. Sitejabber documents code 304
/// ("Email already exists"); that it is what a repeated request for the same customer gets
/// is *inferred*, so only that code is read this way.
fn already_there(error: &Error) -> bool {
    ErrorCode::of(error) == Some(ErrorCode::EmailAlreadyExists)
}

#[async_trait]
impl ReviewPlatform for SitejabberClient {
    fn name(&self) -> &str {
        PROVIDER
    }

    /// Sends a review request for the order and, when the invitation names SKUs, a product
    /// review request for them (each SKU once). A request Sitejabber already has (code 304)
    /// counts as sent. The parts already sent by this client are not sent again when the
    /// invitation is retried after the other part failed; across a restart of the process
    /// between the two parts, that memory is gone (Sitejabber offers no look-up).
    async fn invite(&self, invitation: &ReviewInvitation) -> Result<InvitationReceipt, Error> {
        let customer = &invitation.customer;
        let order_id = &invitation.order_id;
        let order_date = invitation
            .ordered_at
            .unwrap_or_else(chrono::Utc::now)
            .date_naive();
        let mut skus: Vec<String> = Vec::new();
        for p in &invitation.products {
            let sku = p.sku.trim();
            if !sku.is_empty() && !skus.iter().any(|s| s == sku) {
                skus.push(sku.to_owned());
            }
        }
        let mut link = None;
        let mut already = true;
        if !self.invitation_part_sent(order_id, "review") {
            let request = ReviewRequest {
                email: Some(customer.email.clone()),
                order_id: order_id.clone(),
                order_date: Some(order_date),
                first_name: customer.first_name.clone(),
                last_name: customer.last_name.clone(),
                language: customer.language.clone(),
                product_skus: skus.clone(),
                ..Default::default()
            };
            match self.add_review_request(&request).await {
                Ok(receipt) => {
                    link = receipt.link;
                    already = false;
                }
                Err(e) if already_there(&e) => {}
                Err(e) => return Err(e),
            }
            self.mark_invitation_part(order_id, "review");
        }
        if !skus.is_empty() && !self.invitation_part_sent(order_id, "products") {
            let products = ProductReviewRequest {
                email: customer.email.clone(),
                product_skus: skus,
                order_id: order_id.clone(),
                order_date: Some(order_date),
                first_name: customer.first_name.clone(),
                last_name: customer.last_name.clone(),
                language: customer.language.clone(),
                ..Default::default()
            };
            match self.add_product_review_request(&products).await {
                Ok(_) => already = false,
                Err(e) if already_there(&e) => {}
                Err(e) => return Err(e),
            }
            self.mark_invitation_part(order_id, "products");
        }
        Ok(InvitationReceipt {
            platform: PROVIDER.to_owned(),
            reference: link.or_else(|| Some(order_id.clone())),
            already_invited: already,
        })
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
