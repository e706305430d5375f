//! Building providers from environment variables (or any lookup of them), per enabled
//! feature. A provider with all its variables set is configured, one with none is left
//! out, and a partial set is an error that names what is missing.

use commerce_core::{Error, ProviderClient, SharedState, Vars, env_optional};

pub use commerce_core::{ProviderSpec, Role};

use crate::flow::Providers;

/// The providers this build can compose: one line per provider crate, enabled by its
/// feature. Each crate describes itself (`PROVIDER`: name, role, variables, how it is built
/// from them), so a variable name is written only in its crate.
pub const PROVIDERS: &[ProviderSpec] = &[
    #[cfg(feature = "retailer")]
    retailer_client::PROVIDER,
    #[cfg(feature = "shopwedo")]
    shopwedo_client::PROVIDER,
    #[cfg(feature = "customer-api")]
    customer_api_client::PROVIDER,
    #[cfg(feature = "safeshop")]
    safeshop_client::PROVIDER,
    #[cfg(feature = "sitejabber")]
    sitejabber_client::PROVIDER,
];

/// The variables of the provider `name` of this build (required, then optional): what an
/// operator checks when it refuses its credentials or settings. Empty for a provider this
/// build does not have.
pub fn variables_of(name: &str) -> Vec<&'static str> {
    PROVIDERS
        .iter()
        .filter(|spec| spec.name == name)
        .flat_map(|spec| spec.required.iter().chain(spec.optional.iter()).copied())
        .collect()
}

/// Adds the provider `name` to `providers`, built from `vars`.
pub fn add_provider(providers: Providers, name: &str, vars: &Vars<'_>) -> Result<Providers, Error> {
    add_provider_shared(providers, name, vars, None)
}

/// [`add_provider`], the client sharing its credential's token and rate budgets through
/// `shared` (with every process using the same state) when given.
pub fn add_provider_shared(
    providers: Providers,
    name: &str,
    vars: &Vars<'_>,
    shared: Option<&SharedState>,
) -> Result<Providers, Error> {
    let spec = PROVIDERS
        .iter()
        .find(|spec| spec.name == name)
        .ok_or_else(|| Error::config(format!("{name} is not a provider of this build")))?;
    Ok(providers.provider(spec.build(vars, shared)?))
}

impl Providers {
    /// Adds a client built from variables ([`ProviderSpec::build`]) in its role.
    pub fn provider(self, client: ProviderClient) -> Self {
        let mut providers = self;
        match client {
            ProviderClient::SalesChannel(c) => providers.channels.push(c),
            ProviderClient::Fulfilment(c) => providers.fulfilment.push(c),
            ProviderClient::ReviewPlatform(c) => providers.review_platforms.push(c),
        }
        providers
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
        Self::from_vars(&env_optional)
    }

    /// Like [`from_env`](Self::from_env), with the variables looked up by `vars`.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, Error> {
        Self::from_vars_shared(vars, None)
    }

    /// [`from_env`](Self::from_env), every client sharing its credential's access token and
    /// rate budgets through `shared` with every other process using it (a PostgreSQL
    /// database's `Postgres::shared_state()`, with feature `postgres`).
    pub fn from_env_shared(shared: SharedState) -> Result<Self, Error> {
        Self::from_vars_shared(&env_optional, Some(&shared))
    }

    /// [`from_vars`](Self::from_vars), sharing through `shared` when given.
    pub fn from_vars_shared(vars: &Vars<'_>, shared: Option<&SharedState>) -> Result<Self, Error> {
        let mut providers = Providers::new();
        for spec in PROVIDERS {
            if spec.configured(vars)? {
                providers = providers.provider(spec.build(vars, shared)?);
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
                let err = spec.configured(&only_first).unwrap_err();
                assert!(err.to_string().contains(spec.required[1]), "{err}");
            }
            assert!(!spec.configured(&|_| None).unwrap());
            assert!(spec.configured(&|_| Some("x".to_owned())).unwrap());
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
