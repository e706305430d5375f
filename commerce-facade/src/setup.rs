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

/// A provider crate the facade can be built with: its name, the cargo feature that compiles
/// it in, the prefix all its variables start with, and its variables (after the prefix). Its crate's
/// `PROVIDER` says the same, but a crate whose feature is off is not compiled: this table is
/// how a build without it still knows the variables it ignores. A test (with every feature)
/// proves the two agree.
struct Known {
    name: &'static str,
    feature: &'static str,
    prefix: &'static str,
    vars: &'static [&'static str],
    compiled: bool,
}

impl Known {
    /// Its variables' full names.
    fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.vars.iter().map(|v| format!("{}{v}", self.prefix))
    }
}

/// Every provider crate of the workspace, compiled in or not.
const KNOWN: &[Known] = &[
    Known {
        name: "bol",
        feature: "retailer",
        prefix: "RETAILER_",
        vars: &["CLIENT_ID", "CLIENT_SECRET", "API_URL", "TOKEN_URL", "DEMO"],
        compiled: cfg!(feature = "retailer"),
    },
    Known {
        name: "shopwedo",
        feature: "shopwedo",
        prefix: "SHOPWEDO_",
        vars: &["SHOP_ID", "SHOP_KEY", "BASE_URL"],
        compiled: cfg!(feature = "shopwedo"),
    },
    Known {
        name: "customer-api",
        feature: "customer-api",
        prefix: "CUSTOMER_API_",
        vars: &["SHOP_URL", "CLIENT_ID", "CLIENT_SECRET"],
        compiled: cfg!(feature = "customer-api"),
    },
    Known {
        name: "safeshop",
        feature: "safeshop",
        prefix: "SAFESHOP_",
        vars: &["CLIENT_ID", "CLIENT_SECRET", "BASE_URL"],
        compiled: cfg!(feature = "safeshop"),
    },
    Known {
        name: "sitejabber",
        feature: "sitejabber",
        prefix: "SITEJABBER_",
        vars: &["CLIENT_TOKEN", "EMAIL", "PASSWORD", "DOMAIN", "BASE_URL"],
        compiled: cfg!(feature = "sitejabber"),
    },
];

/// The providers this build does not have (their cargo feature is off) whose variables
/// are set in `vars`, each with the variables set, in the table's order: what a run
/// ignores. Empty when every provider with a variable set is compiled in.
///
/// ```
/// let env = |name: &str| std::env::var(name).ok();
/// for (provider, set) in commerce_facade::ignored_providers(&env) {
///     eprintln!("{provider} is not in this build: {} ignored", set.join(", "));
/// }
/// ```
pub fn ignored_providers(vars: &Vars<'_>) -> Vec<(&'static str, Vec<String>)> {
    KNOWN
        .iter()
        .filter(|known| !known.compiled)
        .filter_map(|known| {
            let set: Vec<String> = known
                .names()
                .filter(|name| vars(name).is_some_and(|v| !v.trim().is_empty()))
                .collect();
            (!set.is_empty()).then_some((known.name, set))
        })
        .collect()
}

/// The line that names the ignored providers ([`ignored_providers`]), their variables and
/// the feature each needs; `None` when nothing is ignored.
pub fn ignored_providers_message(vars: &Vars<'_>) -> Option<String> {
    let ignored = ignored_providers(vars);
    if ignored.is_empty() {
        return None;
    }
    let each: Vec<String> = ignored
        .iter()
        .map(|(name, set)| {
            let feature = KNOWN
                .iter()
                .find(|k| k.name == *name)
                .map_or(*name, |k| k.feature);
            format!("{name} ({}; cargo feature `{feature}`)", set.join(", "))
        })
        .collect();
    Some(format!(
        "ignored: variables of provider(s) this build does not have are set: {}. Their orders \
         are not picked up or shipped through them; build with the feature(s) to use them, or \
         unset the variables",
        each.join("; ")
    ))
}

/// Warns once per process (`tracing::warn!`) about the providers this build ignores.
fn warn_ignored_once(vars: &Vars<'_>) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if let Some(message) = ignored_providers_message(vars)
        && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        tracing::warn!("{message}");
    }
}

/// Adds the provider `name` to `providers`, built from `vars`.
pub fn add_provider(providers: Providers, name: &str, vars: &Vars<'_>) -> Result<Providers, Error> {
    add_provider_shared(providers, name, vars, None)
}

/// [`add_provider`], the client sharing its credential's token and rate budgets through
/// `shared` (with every process using the same state) when given. Like
/// [`Providers::from_vars`], it names once per process the providers this build ignores.
pub fn add_provider_shared(
    providers: Providers,
    name: &str,
    vars: &Vars<'_>,
    shared: Option<&SharedState>,
) -> Result<Providers, Error> {
    warn_ignored_once(vars);
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
    ///
    /// Variables of providers this build does not have (their feature is off) are named
    /// once per process in a `tracing` warning ([`ignored_providers`]).
    pub fn from_vars_shared(vars: &Vars<'_>, shared: Option<&SharedState>) -> Result<Self, Error> {
        warn_ignored_once(vars);
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
    fn the_table_of_providers_agrees_with_the_compiled_crates() {
        for spec in PROVIDERS {
            let known = KNOWN
                .iter()
                .find(|k| k.name == spec.name)
                .unwrap_or_else(|| panic!("{} is not in the table", spec.name));
            assert!(known.compiled, "{}: feature `{}`", spec.name, known.feature);
            let mut theirs: Vec<&str> = spec.required.iter().chain(spec.optional).copied().collect();
            let mut ours: Vec<String> = known.names().collect();
            theirs.sort_unstable();
            ours.sort_unstable();
            assert_eq!(ours, theirs, "{}'s variables", spec.name);
            for name in &theirs {
                assert!(name.starts_with(known.prefix), "{name} outside {}", known.prefix);
            }
        }
        // Every entry marked compiled is one of this build's providers, and no two
        // providers share a prefix.
        for known in KNOWN {
            assert_eq!(
                known.compiled,
                PROVIDERS.iter().any(|p| p.name == known.name),
                "{}",
                known.name
            );
            for other in KNOWN.iter().filter(|o| o.name != known.name) {
                assert!(
                    !known.prefix.starts_with(other.prefix),
                    "{} / {}",
                    known.name,
                    other.name
                );
            }
        }
    }

    #[test]
    fn variables_of_providers_not_compiled_in_are_named() {
        // Every variable of every provider set, one blank.
        let all = |name: &str| (name != "SHOPWEDO_BASE_URL").then(|| "x".to_owned());
        let ignored = ignored_providers(&all);
        let expected: Vec<&str> = KNOWN.iter().filter(|k| !k.compiled).map(|k| k.name).collect();
        assert_eq!(ignored.iter().map(|(n, _)| *n).collect::<Vec<_>>(), expected);
        for (name, set) in &ignored {
            let known = KNOWN.iter().find(|k| k.name == *name).unwrap();
            assert!(!set.is_empty() && set.iter().all(|v| v.starts_with(known.prefix)));
            assert!(!set.iter().any(|v| v == "SHOPWEDO_BASE_URL"));
        }
        let message = ignored_providers_message(&all);
        assert_eq!(message.is_some(), !expected.is_empty(), "{message:?}");
        for name in &expected {
            let message = message.as_deref().unwrap();
            assert!(message.contains(name), "{message}");
        }
        // Nothing set, nothing ignored; a blank value is not set.
        assert!(ignored_providers(&|_| None).is_empty());
        assert!(ignored_providers(&|_| Some("  ".to_owned())).is_empty());
        assert_eq!(ignored_providers_message(&|_| None), None);
    }

    /// Built with only some provider features (`cargo test -p commerce-facade
    /// --no-default-features --features retailer,shopwedo --lib setup`), the others'
    /// variables are named.
    #[test]
    #[cfg(all(
        feature = "retailer",
        feature = "shopwedo",
        not(feature = "customer-api"),
        not(feature = "safeshop"),
        not(feature = "sitejabber")
    ))]
    fn with_two_providers_the_other_three_are_named() {
        let vars = |name: &str| {
            [
                "RETAILER_CLIENT_ID",
                "CUSTOMER_API_CLIENT_ID",
                "SAFESHOP_CLIENT_ID",
            ]
            .contains(&name)
            .then(|| "x".to_owned())
        };
        assert_eq!(
            ignored_providers(&vars),
            vec![
                ("customer-api", vec!["CUSTOMER_API_CLIENT_ID".to_owned()]),
                ("safeshop", vec!["SAFESHOP_CLIENT_ID".to_owned()]),
            ]
        );
        let message = ignored_providers_message(&vars).unwrap();
        assert!(message.contains("cargo feature `customer-api`"), "{message}");
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
