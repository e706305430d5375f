//! What is sent to Safe.Shop and what it answers.

use chrono::NaiveDateTime;
use commerce_core::{Error, ValidationErrors, is_valid_email};
use serde::{Serialize, Serializer};

fn send_at<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.format("%Y-%m-%d %H:%M:%S").to_string()),
        None => s.serialize_none(),
    }
}

/// An invitation to review an order. `email` and `order_id` are required; build it with
/// the fields you have and `..Default::default()`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Invite {
    /// The customer's e-mail (required).
    pub email: String,
    /// The order id (required). Whether Safe.Shop refuses an order id it already has (409)
    /// is not documented.
    pub order_id: String,
    /// When to send the invitation (`Y-m-d H:i:s`); `None`: the dashboard's delay.
    #[serde(serialize_with = "send_at", skip_serializing_if = "Option::is_none")]
    pub send_datetime: Option<NaiveDateTime>,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firstname: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lastname: Option<String>,
    /// Telephone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephone: Option<String>,
    /// Gender, as your shop records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Your customer id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Language of the invitation (ISO 639-1, two letters: `nl`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Country (ISO 3166-1 alpha-2: `NL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    /// Company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Customer segment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Sales channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

impl Invite {
    /// Every problem Safe.Shop would refuse, named by field.
    pub fn validate(&self) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.check(
            is_valid_email(&self.email),
            "email",
            format!("`{}` is not a well-formed address", self.email),
        );
        v.require(&self.order_id, "order_id");
        if let Some(l) = &self.language {
            v.check(
                l.len() == 2 && l.chars().all(|c| c.is_ascii_lowercase()),
                "language",
                format!("must be an ISO 639-1 code such as `nl`, not `{l}`"),
            );
        }
        if let Some(c) = &self.country {
            v.check(
                c.len() == 2 && c.chars().all(|c| c.is_ascii_uppercase()),
                "country",
                format!("must be an ISO 3166-1 alpha-2 code such as `NL`, not `{c}`"),
            );
        }
        v.into_result(())
    }
}

/// What Safe.Shop did with an invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteOutcome {
    /// Accepted (2xx); the body, if any, as sent.
    Accepted {
        /// The HTTP status.
        status: u16,
        /// The body text.
        body: String,
    },
    /// Safe.Shop answered 409 Conflict, read as "already had an invite for this order"
    /// (*inferred*: the document does not describe 409).
    Duplicate {
        /// The body text, if any.
        body: String,
    },
}
