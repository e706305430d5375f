//! Review requests: ask a customer for a review, take the request back, and the links to
//! the review forms.

use chrono::NaiveDate;
use commerce_core::{Endpoint, Error, ValidationErrors, is_valid_email};
use serde::Deserialize;

use crate::client::SitejabberClient;
use crate::model::{Partner, Removed, ReviewRequestReceipt};
use crate::params::*;

/// Who to ask for a review, and about which order. Either `email` or `phone` is required.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewRequest {
    /// The customer's e-mail.
    pub email: Option<String>,
    /// The customer's phone (when there is no e-mail).
    pub phone: Option<String>,
    /// The order id.
    pub order_id: String,
    /// The order date.
    pub order_date: Option<NaiveDate>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Labels to attach to the review once written.
    pub labels: Vec<String>,
    /// Business location identifier.
    pub location: Option<String>,
    /// Language of the request.
    pub language: Option<String>,
    /// SKUs bought.
    pub product_skus: Vec<String>,
    /// Return the review link instead of sending the e-mail.
    pub return_link: bool,
}

impl ReviewRequest {
    fn validate(&self) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        match (&self.email, &self.phone) {
            (None, None) => v.push("email", "is required when no phone is given"),
            (Some(e), _) => v.check(
                is_valid_email(e),
                "email",
                format!("`{e}` is not a well-formed address"),
            ),
            (None, Some(p)) => v.require(p, "phone"),
        }
        v.require(&self.order_id, "order_id");
        v.check(self.order_date.is_some(), "order_date", "is required");
        v.into_result(())
    }
}

#[derive(Deserialize)]
struct EditLink {
    #[serde(default, deserialize_with = "commerce_core::lenient::text")]
    link: String,
}

impl SitejabberClient {
    /// Asks a customer for a review of an order. `POST /businesses/{d}/review/request/add`.
    ///
    /// A create: never re-sent once it may have reached Sitejabber (then
    /// [`Error::Unconfirmed`] says so).
    pub async fn add_review_request(&self, request: &ReviewRequest) -> Result<ReviewRequestReceipt, Error> {
        let ep = Endpoint::post("review_requests.add", self.business_path("review/request/add"))
            .form_opt("email", request.email.as_deref())
            .form_opt("phone", request.phone.as_deref())
            .form([("order_id", request.order_id.as_str())])
            .form_opt("order_date", request.order_date.map(|d| d.format("%Y-%m-%d")))
            .form_opt("first_name", request.first_name.as_deref())
            .form_opt("last_name", request.last_name.as_deref())
            .form_opt("labels", joined(&request.labels))
            .form_opt("location", request.location.as_deref())
            .form_opt("language", request.language.as_deref())
            .form_opt("product_skus", joined(&request.product_skus))
            .form_opt("return_link", flag(request.return_link));
        self.call(invalid(ep, request.validate())).await
    }

    /// Withdraws review requests of a customer (of one order, or all when `order_id` is
    /// `None`). `POST /businesses/{d}/review/request/remove`. Returns the removed order ids.
    pub async fn remove_review_request(
        &self,
        email: &str,
        order_id: Option<&str>,
    ) -> Result<Vec<String>, Error> {
        let ep = Endpoint::post(
            "review_requests.remove",
            self.business_path("review/request/remove"),
        )
        .form([("email", email)])
        .form_opt("order_id", order_id)
        .idempotent();
        self.call::<Removed>(invalid(ep, email_check(email)))
            .await
            .map(|r| r.removed_order_ids)
    }

    /// The link to write a review of the business. `GET /partners/{d}/write-link/get`.
    pub async fn write_review_link(&self) -> Result<Partner, Error> {
        self.call(Endpoint::get("links.write", self.partner_path("write-link/get")))
            .await
    }

    /// The link for a customer to edit their review. `GET /partners/{d}/edit-link/get?email=`.
    pub async fn edit_review_link(&self, email: &str) -> Result<String, Error> {
        let ep = Endpoint::get("links.edit", self.partner_path("edit-link/get")).query("email", email);
        self.call::<EditLink>(invalid(ep, email_check(email)))
            .await
            .map(|l| l.link)
    }
}
