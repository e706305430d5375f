//! The legacy manual-label form: a URL with the shipment's fields that opens ShopWeDo's
//! (or StartSendr's) label form prefilled. No API authentication: the user must be logged
//! in to the admin section in the browser that opens it.

use commerce_core::{Error, ValidationErrors, is_valid_email};
use url::Url;

/// Which admin site the link opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelHost {
    /// `https://shopwedo.com`.
    #[default]
    ShopWeDo,
    /// `https://startsendr.com`.
    StartSendr,
}

/// The receiver's language on the label form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelLanguage {
    /// Dutch (the default).
    #[default]
    Nl,
    /// French.
    Fr,
    /// English.
    En,
    /// German.
    De,
}

impl LabelLanguage {
    fn code(self) -> &'static str {
        match self {
            LabelLanguage::Nl => "nl",
            LabelLanguage::Fr => "fr",
            LabelLanguage::En => "en",
            LabelLanguage::De => "de",
        }
    }
}

/// The 27 EU member states: outside them the phone number is required.
const EU: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT",
    "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// The fields of a manual label. `country` defaults to `BE` and `language` to `nl`, as on
/// the form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManualLabel {
    /// The admin site.
    pub host: LabelHost,
    /// A reference for the shipment, e.g. an order id (`a-z A-Z 0-9 - _` only).
    pub tracking_reference: Option<String>,
    /// First name (one of first name, last name or company is needed).
    pub firstname: Option<String>,
    /// Last name.
    pub lastname: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// E-mail (required).
    pub email: String,
    /// Phone (required outside the EU).
    pub phone: Option<String>,
    /// Street (required).
    pub street: String,
    /// House number (required).
    pub number: String,
    /// Box number.
    pub box_number: Option<String>,
    /// Postal code (required).
    pub zip: String,
    /// City (required).
    pub city: String,
    /// ISO country code (`None`: `BE`).
    pub country: Option<String>,
    /// Language (default `nl`).
    pub language: LabelLanguage,
}

impl ManualLabel {
    /// The prefilled form's address, after checking every field.
    pub fn url(&self) -> Result<Url, Error> {
        let mut v = ValidationErrors::new();
        if let Some(r) = &self.tracking_reference {
            v.check(
                !r.is_empty()
                    && r.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "trackingReference",
                "may hold only a-z, A-Z, 0-9, - and _",
            );
        }
        let named = [&self.firstname, &self.lastname, &self.company]
            .iter()
            .any(|n| n.as_deref().is_some_and(|s| !s.trim().is_empty()));
        v.check(
            named,
            "addressFirstname",
            "one of first name, last name or company is required",
        );
        v.check(
            is_valid_email(&self.email),
            "addressEmail",
            format!("`{}` is not a well-formed address", self.email),
        );
        v.require(&self.street, "addressStreet");
        v.require(&self.number, "addressNumber");
        v.require(&self.zip, "addressZip");
        v.require(&self.city, "addressCity");
        let country = self
            .country
            .clone()
            .unwrap_or_else(|| "BE".to_owned())
            .to_ascii_uppercase();
        v.check(
            country.len() == 2 && country.chars().all(|c| c.is_ascii_alphabetic()),
            "addressCountry",
            format!("must be a 2-letter ISO code, not `{country}`"),
        );
        if !EU.contains(&country.as_str()) {
            v.check(
                self.phone.as_deref().is_some_and(|p| !p.trim().is_empty()),
                "addressPhone",
                format!("is required outside the EU ({country})"),
            );
        }
        v.into_result(())?;

        let host = match self.host {
            LabelHost::ShopWeDo => "https://shopwedo.com/admin/shipper/add",
            LabelHost::StartSendr => "https://startsendr.com/admin/shipper/add",
        };
        let mut url = Url::parse(host).expect("a fixed URL");
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("ext", "manual");
            let mut opt = |k: &str, v: &Option<String>| {
                if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                    q.append_pair(k, v);
                }
            };
            opt("trackingReference", &self.tracking_reference);
            opt("addressFirstname", &self.firstname);
            opt("addressLastname", &self.lastname);
            opt("addressCompany", &self.company);
            opt("addressEmail", &Some(self.email.clone()));
            opt("addressPhone", &self.phone);
            opt("addressStreet", &Some(self.street.clone()));
            opt("addressNumber", &Some(self.number.clone()));
            opt("addressBox", &self.box_number);
            opt("addressZip", &Some(self.zip.clone()));
            opt("addressCity", &Some(self.city.clone()));
            opt("addressCountry", &Some(country));
            opt("addressLanguage", &Some(self.language.code().to_owned()));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label() -> ManualLabel {
        ManualLabel {
            tracking_reference: Some("FW-20455_a".into()),
            lastname: Some("Peeters".into()),
            email: "an@example.be".into(),
            street: "Grote Markt".into(),
            number: "7".into(),
            box_number: Some("b2".into()),
            zip: "2000".into(),
            city: "Antwerpen".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_url_carries_every_field_with_the_defaults() {
        let url = label().url().unwrap();
        assert_eq!(
            url.as_str(),
            "https://shopwedo.com/admin/shipper/add?ext=manual&trackingReference=FW-20455_a&addressLastname=Peeters&\
             addressEmail=an%40example.be&addressStreet=Grote+Markt&addressNumber=7&addressBox=b2&addressZip=2000&\
             addressCity=Antwerpen&addressCountry=BE&addressLanguage=nl"
        );
        let other = ManualLabel {
            host: LabelHost::StartSendr,
            language: LabelLanguage::De,
            country: Some("de".into()),
            ..label()
        };
        let url = other.url().unwrap();
        assert!(
            url.as_str()
                .starts_with("https://startsendr.com/admin/shipper/add?ext=manual&")
        );
        assert!(url.as_str().ends_with("addressCountry=DE&addressLanguage=de"));
    }

    #[test]
    fn bad_fields_are_named() {
        let bad = ManualLabel {
            tracking_reference: Some("FW 1/2".into()),
            lastname: None,
            email: "nope".into(),
            country: Some("CH".into()),
            ..label()
        };
        let err = bad.url().unwrap_err();
        let fields: Vec<&str> = err.field_errors().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "trackingReference",
                "addressFirstname",
                "addressEmail",
                "addressPhone"
            ]
        );
    }
}
