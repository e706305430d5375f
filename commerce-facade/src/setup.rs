//! Building providers from environment variables (or any lookup of them), per enabled
//! feature. A provider with all its variables set is configured, one with none is left
//! out, and a partial set is an error that names what is missing.

#[allow(unused_imports)]
use commerce_core::{Error, SharedState, env_optional};

use crate::flow::Providers;

/// A provider this build can compose, with the variables it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderSpec {
    /// Its name (`bol`, `shopwedo`, ...).
    pub name: &'static str,
    /// What it is for.
    pub role: &'static str,
    /// Variables that must all be set to use it live.
    pub required: &'static [&'static str],
}

/// `bol (sales channel): RETAILER_CLIENT_ID, RETAILER_CLIENT_SECRET`: what to set to use it.
impl std::fmt::Display for ProviderSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.name, self.role, self.required.join(", "))
    }
}

/// The providers enabled by this build's features.
pub const PROVIDERS: &[ProviderSpec] = &[
    #[cfg(feature = "retailer")]
    ProviderSpec {
        name: "bol",
        role: "sales channel",
        required: &["RETAILER_CLIENT_ID", "RETAILER_CLIENT_SECRET"],
    },
    #[cfg(feature = "shopwedo")]
    ProviderSpec {
        name: "shopwedo",
        role: "fulfilment",
        required: &["SHOPWEDO_SHOP_ID", "SHOPWEDO_SHOP_KEY"],
    },
    #[cfg(feature = "customer-api")]
    ProviderSpec {
        name: "customer-api",
        role: "fulfilment (supplier)",
        required: &[
            "CUSTOMER_API_SHOP_URL",
            "CUSTOMER_API_CLIENT_ID",
            "CUSTOMER_API_CLIENT_SECRET",
        ],
    },
    #[cfg(feature = "safeshop")]
    ProviderSpec {
        name: "safeshop",
        role: "review platform",
        required: &["SAFESHOP_CLIENT_ID", "SAFESHOP_CLIENT_SECRET"],
    },
    #[cfg(feature = "sitejabber")]
    ProviderSpec {
        name: "sitejabber",
        role: "review platform",
        required: &[
            "SITEJABBER_CLIENT_TOKEN",
            "SITEJABBER_EMAIL",
            "SITEJABBER_PASSWORD",
            "SITEJABBER_DOMAIN",
        ],
    },
];

/// Whether `spec`'s variables are all set (`true`), none (`false`), or some (an error
/// naming the missing ones).
pub fn configured(spec: &ProviderSpec, vars: &dyn Fn(&str) -> Option<String>) -> Result<bool, Error> {
    let missing: Vec<&str> = spec
        .required
        .iter()
        .copied()
        .filter(|n| vars(n).is_none())
        .collect();
    match missing.len() {
        0 => Ok(true),
        n if n == spec.required.len() => Ok(false),
        _ => Err(Error::config(format!(
            "{}: some but not all of its variables are set; missing: {}",
            spec.name,
            missing.join(", ")
        ))),
    }
}

#[cfg_attr(
    not(any(
        feature = "retailer",
        feature = "shopwedo",
        feature = "customer-api",
        feature = "safeshop",
        feature = "sitejabber"
    )),
    allow(dead_code)
)]
fn need(vars: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<String, Error> {
    vars(name).ok_or_else(|| Error::config(format!("the variable {name} is not set")))
}

/// Adds the provider `name` to `providers`, built from `vars`.
pub fn add_provider(
    providers: Providers,
    name: &str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Providers, Error> {
    add_provider_shared(providers, name, vars, None)
}

/// [`add_provider`], the client sharing its credential's token and rate budgets through
/// `shared` (with every process using the same state) when given.
#[allow(unused_variables, unused_mut)]
pub fn add_provider_shared(
    mut providers: Providers,
    name: &str,
    vars: &dyn Fn(&str) -> Option<String>,
    shared: Option<&SharedState>,
) -> Result<Providers, Error> {
    // Every builder has the same `shared` setter.
    macro_rules! share {
        ($b:expr) => {
            match shared {
                Some(state) => $b.shared(state.clone()),
                None => $b,
            }
        };
    }
    match name {
        #[cfg(feature = "retailer")]
        "bol" => {
            let mut b = retailer_client::RetailerClient::builder(
                need(vars, "RETAILER_CLIENT_ID")?,
                need(vars, "RETAILER_CLIENT_SECRET")?.into(),
            );
            if let Some(url) = vars("RETAILER_API_URL") {
                b = b.api_url(url);
            }
            if let Some(url) = vars("RETAILER_TOKEN_URL") {
                b = b.token_url(url);
            }
            if let Some(demo) = vars("RETAILER_DEMO") {
                b = b.demo(matches!(demo.as_str(), "1" | "true" | "yes"));
            }
            Ok(providers.channel(share!(b).build()?))
        }
        #[cfg(feature = "shopwedo")]
        "shopwedo" => {
            let id = need(vars, "SHOPWEDO_SHOP_ID")?;
            let id = id
                .parse()
                .map_err(|_| Error::config(format!("SHOPWEDO_SHOP_ID must be a number, not `{id}`")))?;
            let mut b = shopwedo_client::ShopWeDoClient::builder(id, need(vars, "SHOPWEDO_SHOP_KEY")?.into());
            if let Some(url) = vars("SHOPWEDO_BASE_URL") {
                b = b.base_url(url);
            }
            Ok(providers.fulfilment(share!(b).build()?))
        }
        #[cfg(feature = "customer-api")]
        "customer-api" => {
            let b = customer_api_client::CustomerApiClient::builder(
                need(vars, "CUSTOMER_API_CLIENT_ID")?,
                need(vars, "CUSTOMER_API_CLIENT_SECRET")?.into(),
            )
            .shop_url(need(vars, "CUSTOMER_API_SHOP_URL")?);
            Ok(providers.fulfilment(share!(b).build()?))
        }
        #[cfg(feature = "safeshop")]
        "safeshop" => {
            let mut b = safeshop_client::SafeShopClient::builder(
                need(vars, "SAFESHOP_CLIENT_ID")?,
                need(vars, "SAFESHOP_CLIENT_SECRET")?.into(),
            );
            if let Some(url) = vars("SAFESHOP_BASE_URL") {
                b = b.base_url(url);
            }
            Ok(providers.review_platform(share!(b).build()?))
        }
        #[cfg(feature = "sitejabber")]
        "sitejabber" => {
            let mut b = sitejabber_client::SitejabberClient::builder(
                need(vars, "SITEJABBER_EMAIL")?,
                need(vars, "SITEJABBER_PASSWORD")?.into(),
            )
            .client_token(need(vars, "SITEJABBER_CLIENT_TOKEN")?.into())
            .domain(need(vars, "SITEJABBER_DOMAIN")?);
            if let Some(url) = vars("SITEJABBER_BASE_URL") {
                b = b.base_url(url);
            }
            Ok(providers.review_platform(share!(b).build()?))
        }
        other => Err(Error::config(format!("{other} is not a provider of this build"))),
    }
}

/// A duration as people write it on a command line: `200ms`, `2s`, `5m`, `1h`, `2d` (a
/// bare number is seconds); `None` when it is not one (or overflows).
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    Some(std::time::Duration::from_millis(n.checked_mul(unit_ms)?))
}

impl Providers {
    /// Every provider of this build whose variables are all set in the environment; a
    /// provider with only some set is an error naming the missing ones, and so is an
    /// environment with none at all (it lists every provider and its variables). Build a
    /// [`Providers::new`] by hand to start from nothing.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(&|name| env_optional(name))
    }

    /// Like [`from_env`](Self::from_env), with the variables looked up by `vars`.
    pub fn from_vars(vars: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Self::from_vars_shared(vars, None)
    }

    /// [`from_env`](Self::from_env), every client sharing its credential's access token and
    /// rate budgets through `shared` with every other process using it (a PostgreSQL
    /// database's `Postgres::shared_state()`, with feature `postgres`).
    pub fn from_env_shared(shared: SharedState) -> Result<Self, Error> {
        Self::from_vars_shared(&|name| env_optional(name), Some(&shared))
    }

    /// [`from_vars`](Self::from_vars), sharing through `shared` when given.
    pub fn from_vars_shared(
        vars: &dyn Fn(&str) -> Option<String>,
        shared: Option<&SharedState>,
    ) -> Result<Self, Error> {
        let mut providers = Providers::new();
        for spec in PROVIDERS {
            if configured(spec, vars)? {
                providers = add_provider_shared(providers, spec.name, vars, shared)?;
            }
        }
        if providers.channels.is_empty()
            && providers.fulfilment.is_empty()
            && providers.review_platforms.is_empty()
        {
            let wanted: Vec<String> = PROVIDERS.iter().map(ToString::to_string).collect();
            return Err(Error::config(format!(
                "no provider is configured: none has all its variables set. Set every variable of \
                 the providers to use:\n  {}",
                wanted.join("\n  ")
            )));
        }
        Ok(providers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        use std::time::Duration;
        assert_eq!(parse_duration("200ms"), Some(Duration::from_millis(200)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration(" 5m "), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        for bad in ["", "m", "5 m", "-1s", "1.5s", "5x", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_partial_set_names_what_is_missing() {
        for spec in PROVIDERS {
            let first = spec.required[0];
            let only_first = |n: &str| (n == first).then(|| "x".to_owned());
            if spec.required.len() > 1 {
                let err = configured(spec, &only_first).unwrap_err();
                assert!(err.to_string().contains(spec.required[1]), "{err}");
            }
            assert!(!configured(spec, &|_| None).unwrap());
            assert!(configured(spec, &|_| Some("x".to_owned())).unwrap());
        }
        let err = Providers::from_vars(&|_| None).unwrap_err();
        assert!(err.is_invalid_input(), "{err:?}");
        for spec in PROVIDERS {
            for name in spec.required {
                assert!(err.to_string().contains(name), "{name} not named: {err}");
            }
        }
    }
}
