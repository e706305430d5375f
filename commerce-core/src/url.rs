//! Base URLs that are safe to send credentials to, and path segments that are safe to join.

use std::net::IpAddr;

use url::{Host, Url};

use crate::error::Error;

/// Parses `raw` and refuses anything but `https://`, except plain `http://` to a loopback
/// host (`localhost`, `127.0.0.0/8`, `[::1]`), which tests and the sandbox use.
///
/// The returned URL's path always ends in `/`, so endpoint paths join under it.
///
/// ```
/// use commerce_core::secure_base_url;
/// assert!(secure_base_url("https://api.example.com/v1").is_ok());
/// assert!(secure_base_url("http://127.0.0.1:8080/sitejabber/v1").is_ok());
/// let err = secure_base_url("http://api.example.com/v1").unwrap_err();
/// assert!(err.to_string().contains("https"));
/// ```
pub fn secure_base_url(raw: &str) -> Result<Url, Error> {
    let mut url = secure_url(raw)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "base URL `{}` must not have a query or fragment",
            redact(&url)
        )));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Parses `raw` as an absolute URL and applies the HTTPS rule of [`secure_base_url`].
pub fn secure_url(raw: &str) -> Result<Url, Error> {
    let raw = raw.trim();
    let url = Url::parse(raw).map_err(|e| {
        // Quoted without its query or fragment (a query may carry a key), and not at all
        // when it may carry user info.
        let shown = raw.split(['?', '#']).next().unwrap_or_default();
        let shown = if shown.contains('@') || shown.is_empty() {
            "a URL".to_owned()
        } else {
            format!("`{shown}`")
        };
        Error::config(format!("{shown} is not a valid URL: {e}"))
    })?;
    check_secure(&url)?;
    Ok(url)
}

/// Refuses a URL that would send data in clear text to a host that is not loopback, and a
/// URL with user info (`https://user:password@host`): credentials belong in the client's
/// settings, where they are kept secret, not in a URL that is shown in messages and that
/// the HTTP client would turn into a `Basic` header of its own.
pub fn check_secure(url: &Url) -> Result<(), Error> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(format!(
            "refusing the URL `{}`: it carries user info (`user:password@`); give credentials \
             to the client's builder instead",
            redact(url)
        )));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(Error::config(format!(
            "refusing plain http:// to `{}`: credentials and customer data must travel over \
             https:// (plain http is allowed for loopback hosts only)",
            url.host_str().unwrap_or("")
        ))),
        other => Err(Error::config(format!(
            "unsupported URL scheme `{other}` in `{}`: use https://",
            redact(url)
        ))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The URL without user info, query or fragment, for messages (a query may hold a key).
pub fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// Percent-encodes one path segment, so an identifier such as `a/b c` cannot change the path.
///
/// ```
/// use commerce_core::encode_segment;
/// assert_eq!(encode_segment("example.com"), "example.com");
/// assert_eq!(encode_segment("a/b c?"), "a%2Fb%20c%3F");
/// ```
pub fn encode_segment(segment: &str) -> String {
    const KEEP: &[u8] = b"-._~!$&'()*+,;=:@";
    let mut out = String::with_capacity(segment.len());
    for &b in segment.as_bytes() {
        if b.is_ascii_alphanumeric() || KEEP.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_are_accepted() {
        for ok in [
            "https://api.bol.com",
            "http://localhost:1234/x",
            "http://127.0.0.1/x",
            "http://127.9.9.9/x",
            "http://[::1]:80/",
            "HTTPS://API.EXAMPLE.COM/v1/",
        ] {
            assert!(secure_base_url(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn plain_http_to_public_hosts_is_refused_with_a_clear_error() {
        for bad in [
            "http://api.bol.com",
            "http://10.0.0.1/",
            "http://localhost.evil.com/",
            "http://0.0.0.0/",
        ] {
            let err = secure_base_url(bad).unwrap_err();
            assert!(err.is_invalid_input(), "{bad}");
            assert!(err.to_string().contains("refusing plain http://"), "{err}");
        }
        assert!(secure_base_url("ftp://example.com").is_err());
        assert!(secure_base_url("not a url").is_err());
        assert!(secure_base_url("https://example.com/?key=1").is_err());
    }

    #[test]
    fn user_info_is_refused_and_never_shown() {
        for bad in [
            "http://user:pa55word@127.0.0.1:8080/",
            "https://user:pa55word@api.example.com/v1",
            "https://pa55word@api.example.com/v1",
            "https://:pa55word@api.example.com/v1",
        ] {
            let err = secure_base_url(bad).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(shown.contains("user info"), "{shown}");
            assert!(!shown.contains("pa55word"), "{shown}");
        }
    }

    #[test]
    fn base_urls_end_in_a_slash_and_redaction_drops_secrets() {
        let url = secure_base_url("https://api.safe.shop/v1").unwrap();
        assert_eq!(url.as_str(), "https://api.safe.shop/v1/");
        let with_secret = Url::parse("https://user:pw@h.example/p?client_token=s3cret#f").unwrap();
        assert_eq!(redact(&with_secret), "https://h.example/p");
    }
}
