//! Checks of what a user gives a client: environment variables and e-mail addresses.

/// An optional environment variable (`None` when unset or blank, and when it is set to
/// something that is not valid UTF-8: [`required_var`](crate::required_var),
/// [`optional_var`](crate::optional_var) and [`ProviderSpec`](crate::ProviderSpec)'s checks
/// name such a variable as set but not valid UTF-8, never as missing).
pub fn env_optional(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether `email` is a plausible e-mail address: one `@`, a non-empty local part, a domain
/// with a dot and no empty label, no spaces or control characters.
///
/// ```
/// use commerce_core::is_valid_email;
/// assert!(is_valid_email("jan.de.vries+shop@example.co.uk"));
/// for bad in ["", "jan", "jan@", "@example.com", "jan@example", "jan @example.com", "a@b@c.nl", "jan@.com"] {
///     assert!(!is_valid_email(bad), "{bad}");
/// }
/// ```
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && email.len() <= 254
        && !domain.contains('@')
        && domain.contains('.')
        && domain
            .split('.')
            .all(|label| !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_required_variable_missing_from_the_environment_is_named() {
        // A variable name unique to this test, so parallel tests cannot interfere.
        assert!(
            crate::required_var(&env_optional, "CC_TEST_ENV_A_7f3")
                .unwrap_err()
                .to_string()
                .contains("CC_TEST_ENV_A_7f3 is not set")
        );
    }
}
