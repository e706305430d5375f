//! Product review requests: ask a customer to review what they bought.

use chrono::NaiveDate;
use commerce_core::{Endpoint, Error, ValidationErrors, is_valid_email};

use crate::client::SitejabberClient;
use crate::model::{ProductReviewRequestReceipt, Removed};
use crate::params::*;

/// Who to ask for product reviews, and about which order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductReviewRequest {
    /// The customer's e-mail.
    pub email: String,
    /// SKUs bought (at least one).
    pub product_skus: Vec<String>,
    /// The order id.
    pub order_id: String,
    /// The order date.
    pub order_date: Option<NaiveDate>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Business location identifier.
    pub location: Option<String>,
    /// Language of the request.
    pub language: Option<String>,
    /// Return the review links instead of sending the e-mails.
    pub return_link: bool,
}

impl ProductReviewRequest {
    fn validate(&self) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.check(
            is_valid_email(&self.email),
            "email",
            format!("`{}` is not a well-formed address", self.email),
        );
        v.check(
            !self.product_skus.is_empty(),
            "product_skus",
            "needs at least one SKU",
        );
        v.check(
            self.product_skus.iter().all(|s| !s.trim().is_empty()),
            "product_skus",
            "has a blank SKU",
        );
        v.require(&self.order_id, "order_id");
        v.check(self.order_date.is_some(), "order_date", "is required");
        v.into_result(())
    }
}

impl SitejabberClient {
    /// Asks a customer to review the products of an order.
    /// `POST /businesses/{d}/product/review/request/add`. A create: never re-sent once it
    /// may have reached Sitejabber.
    pub async fn add_product_review_request(
        &self,
        request: &ProductReviewRequest,
    ) -> Result<ProductReviewRequestReceipt, Error> {
        let ep = Endpoint::post(
            "product_review_requests.add",
            self.business_path("product/review/request/add"),
        )
        .form([("email", request.email.as_str())])
        .form([("product_skus", request.product_skus.join(","))])
        .form([("order_id", request.order_id.as_str())])
        .form_opt("order_date", request.order_date.map(|d| d.format("%Y-%m-%d")))
        .form_opt("first_name", request.first_name.as_deref())
        .form_opt("last_name", request.last_name.as_deref())
        .form_opt("location", request.location.as_deref())
        .form_opt("language", request.language.as_deref())
        .form_opt("return_link", flag(request.return_link));
        self.call(invalid(ep, request.validate())).await
    }

    /// Withdraws product review requests of a customer (narrowed by SKU and order when
    /// given). `POST /businesses/{d}/product/review/request/remove`.
    pub async fn remove_product_review_request(
        &self,
        email: &str,
        product_sku: Option<&str>,
        order_id: Option<&str>,
    ) -> Result<Vec<String>, Error> {
        let ep = Endpoint::post(
            "product_review_requests.remove",
            self.business_path("product/review/request/remove"),
        )
        .form([("email", email)])
        .form_opt("product_sku", product_sku)
        .form_opt("order_id", order_id)
        .idempotent();
        self.call::<Removed>(invalid(ep, email_check(email)))
            .await
            .map(|r| r.removed_order_ids)
    }
}
