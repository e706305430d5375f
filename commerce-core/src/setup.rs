//! How a provider crate describes itself: its name, what it is to the shop, the variables
//! it is configured by, and how it is built from them. The facade's setup is a table of
//! these ([`ProviderSpec`]), one line per provider crate, so a variable name is written in
//! one place: its crate.

use std::fmt;
use std::sync::Arc;

use crate::domain::{Fulfilment, ReviewPlatform, SalesChannel};
use crate::error::Error;
use crate::shared::SharedState;

/// A lookup of configuration variables by name (the environment, a file, a test's map):
/// `None` when the variable is not set (the environment's lookup, `env_optional`, also
/// gives `None` for a blank one).
pub type Vars<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// What a provider is to the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Where orders come from ([`SalesChannel`]).
    SalesChannel,
    /// Who ships them ([`Fulfilment`]).
    Fulfilment,
    /// Who asks the buyers for reviews ([`ReviewPlatform`]).
    ReviewPlatform,
}

/// `sales channel`, `fulfilment`, `review platform`.
impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Role::SalesChannel => "sales channel",
            Role::Fulfilment => "fulfilment",
            Role::ReviewPlatform => "review platform",
        })
    }
}

/// A client built from variables, as the trait object of its role.
#[derive(Clone)]
pub enum ProviderClient {
    /// A sales channel.
    SalesChannel(Arc<dyn SalesChannel>),
    /// A fulfilment provider.
    Fulfilment(Arc<dyn Fulfilment>),
    /// A review platform.
    ReviewPlatform(Arc<dyn ReviewPlatform>),
}

impl ProviderClient {
    /// The role of this client.
    pub fn role(&self) -> Role {
        match self {
            ProviderClient::SalesChannel(_) => Role::SalesChannel,
            ProviderClient::Fulfilment(_) => Role::Fulfilment,
            ProviderClient::ReviewPlatform(_) => Role::ReviewPlatform,
        }
    }
}

/// The role, not the client (whose `Debug` is its own crate's).
impl fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ProviderClient").field(&self.role()).finish()
    }
}

/// How [`ProviderSpec::build`] makes a client: from the variables, sharing tokens and rate
/// budgets through the state when given.
pub type BuildFn = fn(&Vars<'_>, Option<&SharedState>) -> Result<ProviderClient, Error>;

/// A provider crate's description of itself: each client type has one as its `PROVIDER`
/// constant (`RetailerClient::PROVIDER`, ...).
///
/// ```
/// use commerce_core::{ProviderSpec, Role};
///
/// fn describe(spec: &ProviderSpec) -> String {
///     spec.to_string() // "bol (sales channel): RETAILER_CLIENT_ID, RETAILER_CLIENT_SECRET"
/// }
/// ```
#[derive(Clone, Copy)]
pub struct ProviderSpec {
    /// Its short name (`bol`, `shopwedo`, ...).
    pub name: &'static str,
    /// What it is to the shop.
    pub role: Role,
    /// Variables that must all be set to use it: at least one (a provider with none would
    /// count as configured everywhere).
    pub required: &'static [&'static str],
    /// Variables it reads when set (base URLs, demo switches).
    pub optional: &'static [&'static str],
    /// Builds the client from the variables (the crate's `from_vars`).
    pub build: BuildFn,
}

impl ProviderSpec {
    /// Whether the required variables are all set (`true`), none (`false`), or some (an
    /// error naming the missing ones: a partial set is almost always a typo).
    pub fn configured(&self, vars: &Vars<'_>) -> Result<bool, Error> {
        let missing = self.missing(vars);
        match missing.len() {
            0 => Ok(true),
            n if n == self.required.len() => Ok(false),
            _ => Err(Error::config(format!(
                "{}: some but not all of its variables are set; missing: {}",
                self.name,
                missing.join(", ")
            ))),
        }
    }

    /// Every required variable is set, or an [`Error::Config`] naming each one that is not
    /// (a crate's `from_vars` asks this first, so one error names them all).
    pub fn require_all(&self, vars: &Vars<'_>) -> Result<(), Error> {
        match self.missing(vars).as_slice() {
            [] => Ok(()),
            [one] => Err(Error::config(format!(
                "{}: the variable {one} is not set (or is blank)",
                self.name
            ))),
            many => Err(Error::config(format!(
                "{}: the variables {} are not set (or are blank)",
                self.name,
                many.join(", ")
            ))),
        }
    }

    /// The required variables `vars` does not have.
    fn missing(&self, vars: &Vars<'_>) -> Vec<&'static str> {
        self.required
            .iter()
            .copied()
            .filter(|n| vars(n).is_none())
            .collect()
    }

    /// Builds the client from `vars`, sharing through `shared` when given.
    pub fn build(&self, vars: &Vars<'_>, shared: Option<&SharedState>) -> Result<ProviderClient, Error> {
        (self.build)(vars, shared)
    }
}

/// `bol (sales channel): RETAILER_CLIENT_ID, RETAILER_CLIENT_SECRET`: what to set to use it.
impl fmt::Display for ProviderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name, self.role, self.required.join(", "))
    }
}

impl fmt::Debug for ProviderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSpec")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("required", &self.required)
            .field("optional", &self.optional)
            .finish_non_exhaustive()
    }
}

/// A required variable from `vars`: unset is an [`Error::Config`] naming it.
pub fn required_var(vars: &Vars<'_>, name: &str) -> Result<String, Error> {
    vars(name).ok_or_else(|| Error::config(format!("the variable {name} is not set (or is blank)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &Vars<'_>, _: Option<&SharedState>) -> Result<ProviderClient, Error> {
        Err(Error::config("not built in this test"))
    }

    const SPEC: ProviderSpec = ProviderSpec {
        name: "demo",
        role: Role::Fulfilment,
        required: &["DEMO_ID", "DEMO_KEY"],
        optional: &["DEMO_URL"],
        build: none,
    };

    #[test]
    fn a_partial_set_names_what_is_missing() {
        let only_id = |n: &str| (n == "DEMO_ID").then(|| "x".to_owned());
        let err = SPEC.configured(&only_id).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration error: demo: some but not all of its variables are set; missing: DEMO_KEY"
        );
        assert!(!SPEC.configured(&|_| None).unwrap());
        assert!(SPEC.configured(&|_| Some("x".to_owned())).unwrap());
        assert_eq!(SPEC.to_string(), "demo (fulfilment): DEMO_ID, DEMO_KEY");
        assert_eq!(
            SPEC.require_all(&|_| None).unwrap_err().to_string(),
            "configuration error: demo: the variables DEMO_ID, DEMO_KEY are not set (or are blank)"
        );
        assert_eq!(
            SPEC.require_all(&only_id).unwrap_err().to_string(),
            "configuration error: demo: the variable DEMO_KEY is not set (or is blank)"
        );
        assert!(SPEC.require_all(&|_| Some("x".to_owned())).is_ok());
        let err = required_var(&only_id, "DEMO_KEY").unwrap_err();
        assert!(err.to_string().contains("DEMO_KEY is not set"), "{err}");
    }
}
