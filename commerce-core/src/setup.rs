//! How a provider crate describes itself: its name, what it is to the shop, the variables
//! it is configured by, and how it is built from them. The facade's setup is a table of
//! these ([`ProviderSpec`]), one line per provider crate, so a variable name is written in
//! one place: its crate.

use std::fmt;
use std::sync::Arc;

use crate::domain::{Fulfilment, ReviewPlatform, SalesChannel};
use crate::error::Error;
use crate::state::shared::SharedState;

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
    /// error naming the missing ones: a partial set is almost always a typo). A variable
    /// set to something that is not valid UTF-8 is set, and an error naming it as such.
    pub fn configured(&self, vars: &Vars<'_>) -> Result<bool, Error> {
        self.configured_in(vars, &env_var_os)
    }

    fn configured_in(&self, vars: &Vars<'_>, var_os: &VarOs<'_>) -> Result<bool, Error> {
        let (missing, not_utf8) = self.unusable(vars, var_os);
        if !not_utf8.is_empty() {
            return Err(self.unusable_error(&missing, &not_utf8));
        }
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
    /// (a crate's `from_vars` asks this first, so one error names them all), and each one
    /// set to something that is not valid UTF-8, as such.
    pub fn require_all(&self, vars: &Vars<'_>) -> Result<(), Error> {
        self.require_all_in(vars, &env_var_os)
    }

    fn require_all_in(&self, vars: &Vars<'_>, var_os: &VarOs<'_>) -> Result<(), Error> {
        let (missing, not_utf8) = self.unusable(vars, var_os);
        if missing.is_empty() && not_utf8.is_empty() {
            return Ok(());
        }
        Err(self.unusable_error(&missing, &not_utf8))
    }

    /// The required variables `vars` does not have: unset (or blank), and set in the
    /// environment but not valid UTF-8.
    fn unusable(&self, vars: &Vars<'_>, var_os: &VarOs<'_>) -> (Vec<&'static str>, Vec<&'static str>) {
        let (not_utf8, missing) = self
            .required
            .iter()
            .copied()
            .filter(|n| vars(n).is_none())
            .partition(|n| is_not_utf8(n, var_os));
        (missing, not_utf8)
    }

    fn unusable_error(&self, missing: &[&str], not_utf8: &[&str]) -> Error {
        let mut parts = Vec::new();
        match not_utf8 {
            [] => {}
            [one] => parts.push(format!("the variable {one} is set but is not valid UTF-8")),
            many => parts.push(format!(
                "the variables {} are set but are not valid UTF-8",
                many.join(", ")
            )),
        }
        match missing {
            [] => {}
            [one] => parts.push(format!("the variable {one} is not set (or is blank)")),
            many => parts.push(format!(
                "the variables {} are not set (or are blank)",
                many.join(", ")
            )),
        }
        Error::config(format!("{}: {}", self.name, parts.join("; ")))
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

/// A lookup of the raw value of a variable, as [`std::env::var_os`] gives it.
type VarOs<'a> = dyn Fn(&str) -> Option<std::ffi::OsString> + 'a;

fn env_var_os(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name)
}

/// Whether `name` is set (per `var_os`) to something that is not valid UTF-8, which the
/// [`Vars`] lookup of the environment ([`env_optional`](crate::env_optional)) cannot give.
fn is_not_utf8(name: &str, var_os: &VarOs<'_>) -> bool {
    var_os(name).is_some_and(|v| v.to_str().is_none())
}

/// Why `vars` had no value for `name`: "the variable NAME is set but is not valid UTF-8"
/// when the environment has it so, otherwise "the variable NAME is not set (or is blank)".
fn unset_message(name: &str, var_os: &VarOs<'_>) -> String {
    if is_not_utf8(name, var_os) {
        format!("the variable {name} is set but is not valid UTF-8")
    } else {
        format!("the variable {name} is not set (or is blank)")
    }
}

/// A required variable from `vars`: unset is an [`Error::Config`] naming it, and so is a
/// variable of the environment set to something that is not valid UTF-8 (named as such,
/// not as missing).
pub fn required_var(vars: &Vars<'_>, name: &str) -> Result<String, Error> {
    vars(name).ok_or_else(|| Error::config(unset_message(name, &env_var_os)))
}

/// An optional variable from `vars`: `Ok(None)` when it is not set (or blank), an
/// [`Error::Config`] naming it when the environment has it set to something that is not
/// valid UTF-8 (rather than quietly falling back to the default).
pub fn optional_var(vars: &Vars<'_>, name: &str) -> Result<Option<String>, Error> {
    optional_var_in(vars, name, &env_var_os)
}

fn optional_var_in(vars: &Vars<'_>, name: &str, var_os: &VarOs<'_>) -> Result<Option<String>, Error> {
    match vars(name) {
        Some(value) => Ok(Some(value)),
        None if is_not_utf8(name, var_os) => Err(Error::config(unset_message(name, var_os))),
        None => Ok(None),
    }
}

/// An optional URL variable ([`optional_var`]), checked as [`secure_url`](crate::secure_url)
/// checks it (absolute; `https://`, or `http://` to a loopback host; no user info): an
/// error names the variable and shows the URL without its user info, query or fragment
/// (a query may carry a key).
pub fn url_var(vars: &Vars<'_>, name: &str) -> Result<Option<String>, Error> {
    checked_url_var(vars, name, |raw| crate::url::secure_url(raw).map(drop))
}

/// An optional base URL variable: [`url_var`] with the checks of
/// [`secure_base_url`](crate::secure_base_url) (no query or fragment either).
pub fn base_url_var(vars: &Vars<'_>, name: &str) -> Result<Option<String>, Error> {
    checked_url_var(vars, name, |raw| crate::url::secure_base_url(raw).map(drop))
}

fn checked_url_var(
    vars: &Vars<'_>,
    name: &str,
    check: impl Fn(&str) -> Result<(), Error>,
) -> Result<Option<String>, Error> {
    let Some(raw) = optional_var(vars, name)? else {
        return Ok(None);
    };
    check(&raw).map_err(|e| match e {
        Error::Config { message } => Error::config(format!("the variable {name}: {message}")),
        other => other,
    })?;
    Ok(Some(raw))
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

    /// The environment as `var_os` sees it: DEMO_KEY holds a byte that is not UTF-8, which
    /// the `Vars` lookup of the environment reads as unset.
    fn env_with_bad_key(name: &str) -> Option<std::ffi::OsString> {
        use std::os::unix::ffi::OsStrExt as _;
        match name {
            "DEMO_ID" => Some("x".into()),
            "DEMO_KEY" => Some(std::ffi::OsStr::from_bytes(b"s3cr\xffet").to_owned()),
            _ => None,
        }
    }

    #[test]
    fn a_variable_that_is_not_utf8_is_named_as_such_never_as_missing() {
        let vars = |n: &str| env_with_bad_key(n).and_then(|v| v.into_string().ok());
        let err = SPEC.require_all_in(&vars, &env_with_bad_key).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration error: demo: the variable DEMO_KEY is set but is not valid UTF-8"
        );
        // Set, so the provider is configured (wrongly), not partly.
        let err = SPEC.configured_in(&vars, &env_with_bad_key).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration error: demo: the variable DEMO_KEY is set but is not valid UTF-8"
        );
        let nothing = |_: &str| None;
        let err = SPEC.require_all_in(&nothing, &env_with_bad_key).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration error: demo: the variable DEMO_KEY is set but is not valid UTF-8; the \
             variable DEMO_ID is not set (or is blank)"
        );
        assert_eq!(
            unset_message("DEMO_KEY", &env_with_bad_key),
            "the variable DEMO_KEY is set but is not valid UTF-8"
        );
        assert_eq!(
            unset_message("DEMO_URL", &env_with_bad_key),
            "the variable DEMO_URL is not set (or is blank)"
        );
        let err = optional_var_in(&vars, "DEMO_KEY", &env_with_bad_key).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("DEMO_KEY is set but is not valid UTF-8"),
            "{err}"
        );
        assert_eq!(
            optional_var_in(&vars, "DEMO_URL", &env_with_bad_key).unwrap(),
            None
        );
        assert!(!format!("{err:?}").contains("s3cr"), "the value is never shown");
    }

    #[test]
    fn a_url_variable_that_is_refused_is_named_and_never_shows_its_query_or_user_info() {
        let bad = |value: &'static str| move |n: &str| (n == "DEMO_URL").then(|| value.to_owned());
        let mut shown = Vec::new();
        for value in [
            "https://user:pa55@host.example/x?token=abc",
            "http://api.example.com/v1?token=abc",
            "ftp://host.example/x?token=abc",
            "not a url?token=abc",
            "https://host.example/x?token=abc",
        ] {
            let err = base_url_var(&bad(value), "DEMO_URL").unwrap_err();
            let text = format!("{err} {err:?}");
            for secret in ["pa55", "abc", "token="] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
            assert!(err.is_invalid_input() && !err.stops_provider(), "{err:?}");
            shown.push(err.to_string());
        }
        // A token URL may carry a query; user info never.
        assert!(url_var(&bad("https://host.example/token?x=1"), "DEMO_URL").is_ok());
        let err = url_var(&bad("https://user:pa55@host.example/x?token=abc"), "DEMO_URL").unwrap_err();
        shown.push(err.to_string());
        assert_eq!(url_var(&|_| None, "DEMO_URL").unwrap(), None);
        assert_eq!(
            base_url_var(&bad("https://api.example.com/v1"), "DEMO_URL")
                .unwrap()
                .as_deref(),
            Some("https://api.example.com/v1")
        );
        insta::assert_snapshot!(shown.join("\n"));
    }
}
