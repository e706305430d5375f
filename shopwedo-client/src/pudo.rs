//! Pick-up points near an address (`pudo`), and finding the one a sales channel names.
//!
//! `pudo` is not in ShopWeDo's published document: the request is what a public ShopWeDo
//! plug-in sends (`{"address": {"zip", "country"}}`, both required) and the answer's shape
//! is **inferred** from what its map script reads, so it is read tolerantly: the points as
//! a top-level list or under `points` beside a `center`.
//!
//! ShopWeDo's `createOrder` has no field for a pick-up point (its document shows none), so
//! this crate does not hand a point over with an order: see the README.

use std::collections::BTreeMap;

use commerce_core::{Error, ValidationErrors, lenient};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::ShopWeDoClient;

/// A place on the map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub lat: Option<f64>,
    /// Longitude.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub lng: Option<f64>,
}

/// A pick-up point's address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickupAddress {
    /// Street.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub street: Option<String>,
    /// House number.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub number: Option<String>,
    /// Postal code.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub zip: Option<String>,
    /// City.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2 country code (`countryIso2`).
    #[serde(rename = "countryIso2", default, deserialize_with = "lenient::opt_text")]
    pub country_iso2: Option<String>,
}

/// One day's opening hours: morning and afternoon, as ShopWeDo writes them (`09:00`;
/// blank: closed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpeningHours {
    /// Opens in the morning.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub open_morning: Option<String>,
    /// Closes at noon.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub close_morning: Option<String>,
    /// Opens in the afternoon.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub open_afternoon: Option<String>,
    /// Closes in the afternoon.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub close_afternoon: Option<String>,
}

/// A pick-up point (`pugo…` fields; the shape is **inferred**).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PickupPoint {
    /// ShopWeDo's id of the point (`pugoId`).
    #[serde(rename = "pugoId", default, deserialize_with = "lenient::opt_text")]
    pub id: Option<String>,
    /// Its name (`pugoName`), as carriers and sales channels show it.
    #[serde(rename = "pugoName", default, deserialize_with = "lenient::opt_text")]
    pub name: Option<String>,
    /// The carrier (`pugoCarrier`: `bpost`, `dpd`, `postnl`, `kariboo`, `dhl`, …).
    #[serde(rename = "pugoCarrier", default, deserialize_with = "lenient::opt_text")]
    pub carrier: Option<String>,
    /// Its address (`pugoAddress`).
    #[serde(rename = "pugoAddress", default, deserialize_with = "lenient::opt_object")]
    pub address: Option<PickupAddress>,
    /// Latitude (`pugoLatitude`).
    #[serde(rename = "pugoLatitude", default, deserialize_with = "lenient::opt_f64")]
    pub latitude: Option<f64>,
    /// Longitude (`pugoLongitude`).
    #[serde(rename = "pugoLongitude", default, deserialize_with = "lenient::opt_f64")]
    pub longitude: Option<f64>,
    /// Opening hours by day (`monday` … `sunday`); a day that cannot be read is left out.
    #[serde(rename = "openingHours", default, deserialize_with = "hours_by_day")]
    pub opening_hours: BTreeMap<String, OpeningHours>,
}

fn hours_by_day<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, OpeningHours>, D::Error> {
    Ok(match lenient::value(d)? {
        Value::Object(map) => map
            .into_iter()
            .filter(|(_, v)| v.is_object())
            .filter_map(|(day, v)| Some((day, serde_json::from_value(v).ok()?)))
            .collect(),
        _ => BTreeMap::new(),
    })
}

/// The pick-up points near an address (`pudo`'s answer).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PickupPoints {
    /// The geocoded centre of the search, when the answer gives it.
    pub center: Option<GeoPoint>,
    /// The points, as ShopWeDo ordered them; an element that is not an object is left out.
    pub points: Vec<PickupPoint>,
}

impl PickupPoints {
    /// Reads an answer: a list of points, or an object with the list under `points` (else
    /// its first list) beside a `center`; a lone point is a list of one. Anything else has
    /// no points.
    pub fn from_answer(answer: &Value) -> Self {
        let points = |items: &[Value]| {
            items
                .iter()
                .filter(|p| p.is_object())
                .filter_map(|p| serde_json::from_value(p.clone()).ok())
                .collect()
        };
        match answer {
            Value::Array(items) => PickupPoints {
                center: None,
                points: points(items),
            },
            Value::Object(map) => {
                let center = map
                    .get("center")
                    .filter(|c| c.is_object())
                    .and_then(|c| serde_json::from_value(c.clone()).ok());
                let list = map
                    .get("points")
                    .and_then(Value::as_array)
                    .or_else(|| map.values().find_map(Value::as_array));
                let points = match list {
                    Some(items) => points(items),
                    None if map.contains_key("pugoId") || map.contains_key("pugoName") => {
                        points(std::slice::from_ref(answer))
                    }
                    None => Vec::new(),
                };
                PickupPoints { center, points }
            }
            _ => PickupPoints::default(),
        }
    }

    /// The point a sales channel names (bol's `pickupPointName`, `PostNL-punt Primera
    /// Breda`): the one point whose name is the same, letters and digits compared without
    /// case, spaces or punctuation. `None` when no point has the name, or when several do
    /// (no confident match: the order is then handed over as before, to the point's address
    /// with its name as the company line).
    pub fn named(&self, name: &str) -> Option<&PickupPoint> {
        let wanted = name_key(name);
        if wanted.is_empty() {
            return None;
        }
        let mut matches = self
            .points
            .iter()
            .filter(|p| p.name.as_deref().map(name_key).as_deref() == Some(wanted.as_str()));
        let first = matches.next()?;
        matches.next().is_none().then_some(first)
    }
}

/// A name as compared: its letters and digits, lower case.
fn name_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

impl ShopWeDoClient {
    /// The pick-up points near a postal code in a country (`pudo`, `{"address": {"zip",
    /// "country"}}`); safe to repeat. Both are required and the country is a 2-letter ISO
    /// code (sent upper case): anything else is an [`Error::InvalidInput`] and nothing is
    /// sent. The answer is read tolerantly ([`PickupPoints::from_answer`]); its shape is
    /// **inferred**.
    pub async fn pudo(&self, zip: &str, country: &str) -> Result<PickupPoints, Error> {
        let (zip, country) = (zip.trim(), country.trim().to_ascii_uppercase());
        let mut ep = Self::method(
            "pudo",
            &json!({"address": {"zip": zip, "country": country}}),
            true,
        );
        let mut v = ValidationErrors::new();
        v.require(zip, "address.zip");
        v.check(
            country.len() == 2 && country.chars().all(|c| c.is_ascii_alphabetic()),
            "address.country",
            format!("must be a 2-letter ISO code, not `{country}`"),
        );
        if let Err(e) = v.into_result(()) {
            ep.fail(e);
        }
        let response = self.inner.transport.send(&ep).await?;
        let answer: Value = response.json()?;
        Ok(PickupPoints::from_answer(&answer))
    }

    /// The pick-up point a sales channel names, found with [`pudo`](Self::pudo) near the
    /// delivery address's postal code ([`PickupPoints::named`]): `Ok(None)` when no point
    /// near it has that name, or several do.
    pub async fn pickup_point_named(
        &self,
        zip: &str,
        country: &str,
        name: &str,
    ) -> Result<Option<PickupPoint>, Error> {
        if name.trim().is_empty() {
            return Err(Error::invalid("name", "is required (the pick-up point's name)"));
        }
        Ok(self.pudo(zip, country).await?.named(name).cloned())
    }
}
