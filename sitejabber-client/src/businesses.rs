//! Businesses: the profile and ratings of one business, or of several at once.

use commerce_core::{Endpoint, Error, Page};

use crate::client::SitejabberClient;
use crate::model::Business;
use crate::params::*;

/// A third-party data source whose reviews and ratings can be included.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Datasource {
    /// Better Business Bureau (`bbb`).
    Bbb,
    /// Google Local Services (`lsa`).
    GoogleLocalServices,
    /// Google My Business (`google`; the code is not in the published table: *inferred*).
    GoogleMyBusiness,
    /// ProductReview (`productreview`).
    ProductReview,
    /// ResellerRatings (`resellerratings`).
    ResellerRatings,
    /// Reviews.io (`reviewsio`).
    ReviewsIo,
    /// Trustpilot (`trustpilot`).
    Trustpilot,
    /// Yelp (`yelp`).
    Yelp,
    /// Any other code.
    Other(String),
}

impl Datasource {
    /// The code on the wire.
    pub fn code(&self) -> &str {
        match self {
            Datasource::Bbb => "bbb",
            Datasource::GoogleLocalServices => "lsa",
            Datasource::GoogleMyBusiness => "google",
            Datasource::ProductReview => "productreview",
            Datasource::ResellerRatings => "resellerratings",
            Datasource::ReviewsIo => "reviewsio",
            Datasource::Trustpilot => "trustpilot",
            Datasource::Yelp => "yelp",
            Datasource::Other(code) => code,
        }
    }
}

impl SitejabberClient {
    /// The business's profile: name, ratings by type, review counts, address.
    /// `GET /businesses/{d}` (with `datasources` to include their ratings).
    pub async fn business(&self, datasources: &[Datasource]) -> Result<Business, Error> {
        let ep = Endpoint::get("business.get", self.business_path(""))
            .query_opt("datasources", codes(datasources));
        self.call(ep).await
    }

    /// Up to 20 businesses at once. `GET /businesses/bulk?businesses=<JSON array>`.
    pub async fn businesses(&self, domains: &[&str]) -> Result<Page<Business>, Error> {
        let check = if domains.is_empty() || domains.len() > 20 {
            Err(Error::invalid("businesses", "takes from 1 to 20 domains"))
        } else {
            Ok(())
        };
        let list = serde_json::to_string(domains).unwrap_or_default();
        let ep = invalid(
            Endpoint::get("business.bulk", "businesses/bulk").query("businesses", list),
            check,
        );
        self.call_list(ep, "urls").await.map(Page::from_results)
    }
}
