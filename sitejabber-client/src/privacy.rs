//! Privacy: what Sitejabber holds about a customer, and its removal.

use commerce_core::{Endpoint, Error};

use crate::client::SitejabberClient;
use crate::model::CustomerInformation;
use crate::params::*;

impl SitejabberClient {
    /// What Sitejabber holds about a customer (a privacy access request).
    /// `GET /businesses/{d}/privacy/access?email=`.
    pub async fn customer_information(&self, email: &str) -> Result<CustomerInformation, Error> {
        let ep = Endpoint::get("privacy.access", self.business_path("privacy/access")).query("email", email);
        self.call(invalid(ep, email_check(email))).await
    }

    /// Removes what Sitejabber holds about a customer. `POST /businesses/{d}/privacy/remove`.
    pub async fn remove_customer_information(&self, email: &str) -> Result<(), Error> {
        let ep = Endpoint::post("privacy.remove", self.business_path("privacy/remove"))
            .form([("email", email)])
            .idempotent();
        self.call_status(invalid(ep, email_check(email))).await
    }
}
