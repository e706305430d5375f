//! OAuth2 on the `oauth2` crate, driven through our own `reqwest::Client` (so the
//! dependency tree holds one reqwest): the client-credentials grant as a [`TokenSource`],
//! and the authorization-code flow with PKCE and refresh tokens.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardRevocableToken, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use tracing::Instrument;
use url::Url;

use crate::auth::jwt::jwt_expiry;
use crate::error::{AuthError, DecodeError, Delivery, Error, Name, ProviderError};
use crate::state::token_cache::{Token, TokenSource};
use crate::state::token_store::Credential;
use crate::url::secure_url;
use crate::wire::error_body::{read_error_body, words_as_message};
use crate::wire::excerpt::bound;
use crate::wire::exchange::Exchange;
use crate::wire::http::HttpClient;
use crate::wire::retry_after::parse_retry_after;
use crate::wire::scrub::Scrubber;

/// How the client proves who it is to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the id and secret form-url-encoded first, as RFC 6749 §2.3.1 says.
    Basic,
    /// HTTP Basic with the id and secret as they are (`base64(id:secret)`), as some
    /// providers document it; identical to [`ClientAuth::Basic`] for plain alphanumerics.
    BasicUnencoded,
    /// `client_id` and `client_secret` in the request body.
    Body,
}

/// How the token request's parameters are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRequestFormat {
    /// `application/x-www-form-urlencoded`, as RFC 6749 says.
    Form,
    /// One JSON object of strings (some providers accept or expect it).
    Json,
    /// The parameters in the query string and no body (`POST /token?grant_type=...`), as
    /// bol documents its token request. Only with HTTP Basic client authentication: a client
    /// secret never travels in a URL.
    Query,
}

/// The token answer, read tolerantly: `token_type` may be missing (taken as `bearer`) and
/// `expires_in` may come as a number or a string.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenAnswer {
    access_token: oauth2::AccessToken,
    #[serde(default = "bearer", deserialize_with = "token_type")]
    token_type: BasicTokenType,
    #[serde(default, deserialize_with = "lenient_secs")]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(skip)]
    scopes: Option<Vec<Scope>>,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

fn token_type<'de, D: Deserializer<'de>>(d: D) -> Result<BasicTokenType, D::Error> {
    let raw = Option::<String>::deserialize(d)?.unwrap_or_default();
    Ok(match raw.to_ascii_lowercase().as_str() {
        "" | "bearer" => BasicTokenType::Bearer,
        "mac" => BasicTokenType::Mac,
        _ => BasicTokenType::Extension(raw),
    })
}

fn lenient_secs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Secs {
        Int(u64),
        Float(f64),
        Text(String),
    }
    // A lifetime that is there but makes no sense ("soon", -1, NaN) is taken as 0 (the
    // cache then keeps the token for its floor), never as "no expiry": a token must not be
    // trusted for ever because its answer was odd. Past u64 saturates (the cache clamps it).
    fn secs(f: f64) -> u64 {
        if f.is_nan() || f <= 0.0 { 0 } else { f as u64 }
    }
    Ok(match Option::<Secs>::deserialize(d)? {
        Some(Secs::Int(n)) => Some(n),
        Some(Secs::Float(f)) => Some(secs(f)),
        Some(Secs::Text(s)) => Some(s.trim().parse::<f64>().map_or(0, secs)),
        None => None,
    })
}

impl oauth2::TokenResponse for TokenAnswer {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &oauth2::AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }

    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

type OAuthClient<HasAuthUrl> = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    HasAuthUrl,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

type TokenResult = Result<TokenAnswer, RequestTokenError<WireError, BasicErrorResponse>>;

/// Why a token request got no readable answer: the exchange's error (a transport error, a
/// time-out, a TLS handshake that failed, an answer too large), classified as every call's.
#[derive(Debug)]
struct WireError(Error);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for WireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// What sending a token request needs, owned, so the `oauth2` crate's future borrows
/// nothing of the caller; shared by every grant.
struct Wire {
    provider: Name,
    http: HttpClient,
    token_url: Url,
    client_id: String,
    client_secret: Option<SecretString>,
    client_auth: ClientAuth,
    format: TokenRequestFormat,
    headers: HeaderMap,
    read_jwt_expiry: bool,
    /// The client secret in every form it travels in, to take out of error texts.
    scrubber: Scrubber,
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2")
            .field("provider", &self.provider)
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("client_auth", &self.client_auth)
            .field("format", &self.format)
            .finish()
    }
}

impl Wire {
    fn new(
        http: &HttpClient,
        provider: Name,
        token_url: &str,
        client_id: String,
        client_secret: Option<SecretString>,
    ) -> Result<Self, Error> {
        if client_id.trim().is_empty() {
            return Err(Error::config(format!(
                "{provider}: the OAuth2 client id is empty"
            )));
        }
        if client_secret
            .as_ref()
            .is_some_and(|s| s.expose_secret().trim().is_empty())
        {
            return Err(Error::config(format!(
                "{provider}: the OAuth2 client secret is empty"
            )));
        }
        let scrubber = match &client_secret {
            Some(secret) => {
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::STANDARD;
                let raw = secret.expose_secret();
                let encoded =
                    |t: &str| -> String { url::form_urlencoded::byte_serialize(t.as_bytes()).collect() };
                // The secret as it is and as the two Basic headers carry it.
                let forms = [
                    secret.clone(),
                    SecretString::from(b64.encode(format!("{client_id}:{raw}"))),
                    SecretString::from(b64.encode(format!("{}:{}", encoded(&client_id), encoded(raw)))),
                ];
                Scrubber::new(&forms)
            }
            None => Scrubber::default(),
        };
        Ok(Wire {
            token_url: secure_url(token_url)?,
            scrubber,
            provider,
            http: http.clone(),
            client_id,
            client_secret,
            client_auth: ClientAuth::Basic,
            format: TokenRequestFormat::Form,
            headers: HeaderMap::new(),
            read_jwt_expiry: true,
        })
    }

    fn client<A: oauth2::EndpointState>(
        &self,
        client: oauth2::Client<
            BasicErrorResponse,
            TokenAnswer,
            BasicTokenIntrospectionResponse,
            StandardRevocableToken,
            BasicRevocationErrorResponse,
            A,
            EndpointNotSet,
            EndpointNotSet,
            EndpointNotSet,
            EndpointNotSet,
        >,
    ) -> OAuthClient<A> {
        let auth_type = match self.client_auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            // Sent in the body by the oauth2 crate; moved into the header by `send` below.
            ClientAuth::BasicUnencoded | ClientAuth::Body => AuthType::RequestBody,
        };
        let client = client
            .set_token_uri(TokenUrl::from_url(self.token_url.clone()))
            .set_auth_type(auth_type);
        match &self.client_secret {
            Some(secret) => client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned())),
            None => client,
        }
    }

    fn span(&self, grant: &'static str) -> tracing::Span {
        tracing::info_span!(
            "commerce.token",
            provider = %self.provider,
            grant,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        )
    }

    /// Sends the token request the `oauth2` crate prepared, through our client, in the
    /// configured shape.
    async fn send(
        &self,
        request: oauth2::HttpRequest,
        status: &Mutex<Option<Seen>>,
    ) -> Result<oauth2::HttpResponse, WireError> {
        let (parts, body) = request.into_parts();
        let mut fields: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
        let mut headers = parts.headers;
        headers.insert(USER_AGENT, self.http.user_agent().clone());
        for (k, v) in &self.headers {
            headers.insert(k, v.clone());
        }
        if self.client_auth == ClientAuth::BasicUnencoded
            && let Some(secret) = &self.client_secret
        {
            use base64::Engine as _;
            fields.retain(|(k, _)| k != "client_id" && k != "client_secret");
            let raw = format!("{}:{}", self.client_id, secret.expose_secret());
            let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
            if let Ok(v) = HeaderValue::from_str(&format!("Basic {encoded}")) {
                headers.insert(AUTHORIZATION, v);
            }
        }
        if let Some(v) = headers.get_mut(AUTHORIZATION) {
            v.set_sensitive(true);
        }
        // The order RFC 6749's examples and providers' documentation show: the grant, the
        // client, then the rest as the request added it.
        fields.sort_by_key(|(k, _)| match k.as_str() {
            "grant_type" => 0,
            "client_id" => 1,
            "client_secret" => 2,
            _ => 3,
        });
        let mut url = self.token_url.clone();
        let body = match self.format {
            TokenRequestFormat::Form => {
                let mut s = url::form_urlencoded::Serializer::new(String::new());
                s.extend_pairs(&fields);
                s.finish().into_bytes()
            }
            TokenRequestFormat::Query => {
                headers.remove(CONTENT_TYPE);
                url.query_pairs_mut().extend_pairs(&fields);
                Vec::new()
            }
            TokenRequestFormat::Json => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                let object: serde_json::Map<String, serde_json::Value> = fields
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
                serde_json::to_vec(&object).unwrap_or_default()
            }
        };
        // Through the one exchange every request takes: the same interceptors, the same
        // bounded read (a token answer up to the client's limit, an error answer's first
        // `MAX_ERROR_BYTES`), the same errors for a connection that fails.
        let mut builder = self.http.client().request(parts.method, url).headers(headers);
        if !body.is_empty() {
            builder = builder.body(body);
        }
        if let Some(t) = self.http.timeout() {
            builder = builder.timeout(t);
        }
        let endpoint: Name = Cow::Borrowed("token");
        let request = builder.build().map_err(|e| {
            WireError(Error::config(format!(
                "{}: the token request cannot be built: {}",
                self.provider,
                e.without_url()
            )))
        })?;
        let exchange = Exchange {
            http: &self.http,
            provider: &self.provider,
            endpoint: &endpoint,
            what: "token URL",
            attempt: 1,
            limit: self.http.timeout(),
        };
        let mut answer = exchange
            .send(request)
            .await
            .map_err(|failed| WireError(failed.into_error()))?;
        let headers = answer.take_headers();
        *status.lock().unwrap_or_else(|p| p.into_inner()) = Some(Seen {
            status: answer.status(),
            retry_after: headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| parse_retry_after(v, SystemTime::now())),
        });
        let mut out = http::Response::builder().status(answer.status());
        if let Some(h) = out.headers_mut() {
            *h = headers;
        }
        let bytes = exchange
            .read(&mut answer)
            .await
            .map_err(|failed| WireError(failed.into_error()))?;
        Ok(out
            .body(bytes.to_vec())
            .expect("status and headers came from a valid answer"))
    }

    /// Turns the `oauth2` crate's outcome into a [`Token`] or a typed [`Error`], and
    /// records the status and latency on `span`.
    fn finish(
        &self,
        result: TokenResult,
        status: &Mutex<Option<Seen>>,
        span: &tracing::Span,
        started: tokio::time::Instant,
    ) -> Result<Token, Error> {
        let seen = *status.lock().unwrap_or_else(|p| p.into_inner());
        let status = seen.map(|s| s.status);
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        if let Some(s) = status {
            span.record("status", s.as_u16());
        }
        let answer = result.map_err(|e| {
            let mut error = self.classify(e, status);
            // A token endpoint's Retry-After holds the next token request back (the cache's
            // cool-down is at least as long).
            if let (Error::Provider(p), Some(wait)) = (&mut error, seen.and_then(|s| s.retry_after)) {
                p.retry_after = Some(wait);
            }
            error
        })?;
        let secret = SecretString::from(answer.access_token.secret().to_owned());
        let mut expires_in = answer.expires_in.map(Duration::from_secs);
        if self.read_jwt_expiry
            && let Some(exp) = jwt_expiry(secret.expose_secret())
        {
            let left = exp.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
            expires_in = Some(expires_in.map_or(left, |e| e.min(left)));
        }
        let refresh = answer
            .refresh_token
            .map(|r| SecretString::from(r.secret().to_owned()));
        Ok(Token::new(secret)
            .with_expires_in(expires_in)
            .with_refresh_token(refresh))
    }

    fn classify(
        &self,
        error: RequestTokenError<WireError, BasicErrorResponse>,
        status: Option<StatusCode>,
    ) -> Error {
        // The provider's text may quote the request, client secret included.
        self.scrubber.error(self.classify_raw(error, status))
    }

    /// A token request the provider answered with an error: 429 and 5xx stay provider
    /// errors (retried when their `RetryHint` says so: 429, 502, 503, 504), the rest is an
    /// authentication failure carrying the provider's own words once (no second "provider
    /// error" prefix, no raw JSON when the answer has a message), bounded like every
    /// provider text.
    fn refused(&self, mut p: ProviderError, status: Option<u16>) -> Error {
        bound(&mut p);
        if matches!(status, Some(429 | 500..=599)) {
            return Error::from(p);
        }
        let message = p
            .message
            .or(p.body_excerpt)
            .unwrap_or_else(|| "the token request was refused".to_owned());
        Error::from(AuthError {
            status,
            code: p.code,
            ..AuthError::new(p.provider, p.endpoint, message)
        })
    }

    fn classify_raw(
        &self,
        error: RequestTokenError<WireError, BasicErrorResponse>,
        status: Option<StatusCode>,
    ) -> Error {
        let status_code = status.map(|s| s.as_u16());
        let endpoint: Name = Cow::Borrowed("token");
        if status_code == Some(404) && !matches!(error, RequestTokenError::Request(_)) {
            // No token endpoint there: the URL is wrong, not the credentials.
            return Error::Misconfigured {
                provider: self.provider.clone(),
                endpoint,
                status: status_code,
                delivery: Delivery::MaybeSent,
                message: format!(
                    "the token URL `{}` answered HTTP 404 (no token endpoint there): check the \
                     token URL",
                    crate::url::redact(&self.token_url)
                ),
            };
        }
        match error {
            // Classified by the exchange, as every call's.
            RequestTokenError::Request(WireError(error)) => error,
            RequestTokenError::ServerResponse(answer) => {
                let mut p = ProviderError::new(self.provider.clone(), endpoint, status_code.unwrap_or(400));
                p.code = Some(answer.error().as_ref().to_owned());
                p.message = answer.error_description().cloned();
                // Words in `error` are the message, not a code, as in every answer.
                words_as_message(&mut p);
                self.refused(p, status_code)
            }
            RequestTokenError::Parse(e, body) => {
                let path = e.path().to_string();
                match status_code {
                    // An error answer in no standard shape: safe to quote.
                    Some(s) if s != 200 => {
                        let mut p = ProviderError::new(self.provider.clone(), endpoint, s);
                        read_error_body(&mut p, &body);
                        if p.code.is_none() && p.message.is_none() {
                            p.body_excerpt = self.scrubber.excerpt(&body, None);
                        }
                        self.refused(p, status_code)
                    }
                    // A success answer holds the token: never quote it.
                    _ => Error::from(DecodeError {
                        provider: self.provider.clone(),
                        endpoint,
                        path,
                        // serde's message could quote the token: keep only where it failed.
                        message: format!(
                            "{:?} error at line {} column {}",
                            e.inner().classify(),
                            e.inner().line(),
                            e.inner().column()
                        ),
                        excerpt: None,
                        source: None,
                    }),
                }
            }
            RequestTokenError::Other(message) => match status_code {
                Some(s @ (429 | 500..=599)) => {
                    Error::from(ProviderError::new(self.provider.clone(), endpoint, s).with_message(message))
                }
                _ => Error::from(AuthError {
                    status: status_code,
                    ..AuthError::new(self.provider.clone(), endpoint, message)
                }),
            },
        }
    }
}

/// What the token endpoint's answer said before its body was read.
#[derive(Debug, Clone, Copy)]
struct Seen {
    status: StatusCode,
    retry_after: Option<Duration>,
}

/// Hands the `oauth2` crate's requests to [`Wire::send`].
struct Sender {
    wire: Arc<Wire>,
    status: Arc<Mutex<Option<Seen>>>,
}

impl Sender {
    fn new(wire: &Arc<Wire>) -> Self {
        Sender {
            wire: wire.clone(),
            status: Arc::new(Mutex::new(None)),
        }
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for Sender {
    type Error = WireError;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, WireError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        let wire = self.wire.clone();
        let status = self.status.clone();
        Box::pin(async move { wire.send(request, &status).await })
    }
}

fn wire_mut(wire: &mut Arc<Wire>) -> &mut Wire {
    Arc::get_mut(wire).expect("configured before first use")
}

/// A [`TokenSource`] for the OAuth2 client-credentials grant.
///
/// ```
/// use commerce_core::{ClientAuth, ClientCredentials, HttpClient, TokenCache, TokenRequestFormat};
/// let http = HttpClient::new("my-crate", "0.1.0");
/// let source = ClientCredentials::new(
///     &http,
///     "safeshop",
///     "https://api.safe.shop/v1/oauth/token",
///     "my-client-id",
///     "my-client-secret".to_owned().into(),
/// )?
/// .client_auth(ClientAuth::Body)
/// .format(TokenRequestFormat::Json)
/// .scope("*");
/// let cache = TokenCache::new(source);
/// # Ok::<(), commerce_core::Error>(())
/// ```
pub struct ClientCredentials {
    wire: Arc<Wire>,
    scopes: Vec<String>,
    extra: Vec<(String, String)>,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("oauth2", &self.wire)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl ClientCredentials {
    /// Client credentials for `provider`, requested at `token_url` (HTTPS, or HTTP to a
    /// loopback host). Empty credentials are refused here, before anything is sent.
    /// Defaults: HTTP Basic client authentication, a form body, no scope.
    pub fn new(
        http: &HttpClient,
        provider: impl Into<Name>,
        token_url: &str,
        client_id: impl Into<String>,
        client_secret: SecretString,
    ) -> Result<Self, Error> {
        if client_secret.expose_secret().trim().is_empty() {
            return Err(Error::config(format!(
                "{}: the OAuth2 client secret is empty",
                provider.into()
            )));
        }
        Ok(ClientCredentials {
            wire: Arc::new(Wire::new(
                http,
                provider.into(),
                token_url,
                client_id.into(),
                Some(client_secret),
            )?),
            scopes: Vec::new(),
            extra: Vec::new(),
        })
    }

    /// Sets how the client authenticates.
    pub fn client_auth(mut self, client_auth: ClientAuth) -> Self {
        wire_mut(&mut self.wire).client_auth = client_auth;
        self
    }

    /// Sets the body format of the token request.
    pub fn format(mut self, format: TokenRequestFormat) -> Self {
        wire_mut(&mut self.wire).format = format;
        self
    }

    /// Asks for a scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Adds a parameter to the token request.
    pub fn extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// Sends this header with the token request (it replaces one the request would have).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        wire_mut(&mut self.wire).headers.insert(name, value);
        self
    }

    /// Whether to read the `exp` claim of JWT access tokens (on by default); the earlier of
    /// it and `expires_in` decides when the token is refreshed.
    pub fn read_jwt_expiry(mut self, on: bool) -> Self {
        wire_mut(&mut self.wire).read_jwt_expiry = on;
        self
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &Url {
        &self.wire.token_url
    }
}

#[async_trait]
impl TokenSource for ClientCredentials {
    async fn fetch(&self) -> Result<Token, Error> {
        if self.wire.format == TokenRequestFormat::Query && self.wire.client_auth == ClientAuth::Body {
            return Err(Error::config(format!(
                "{}: the token request's parameters go in the query string, so the client must \
                 authenticate with HTTP Basic: a client secret never travels in a URL",
                self.wire.provider
            )));
        }
        let span = self.wire.span("client_credentials");
        let started = tokio::time::Instant::now();
        let client = self
            .wire
            .client(oauth2::Client::new(ClientId::new(self.wire.client_id.clone())));
        let mut request = client.exchange_client_credentials();
        for s in &self.scopes {
            request = request.add_scope(Scope::new(s.clone()));
        }
        for (k, v) in &self.extra {
            request = request.add_extra_param(k.clone(), v.clone());
        }
        let sender = Sender::new(&self.wire);
        let result = request.request_async(&sender).instrument(span.clone()).await;
        self.wire.finish(result, &sender.status, &span, started)
    }

    fn provider(&self) -> Name {
        self.wire.provider.clone()
    }

    fn credential(&self) -> Option<Credential> {
        let secret = self.wire.client_secret.clone()?;
        Some(Credential {
            id: format!(
                "{} {} {}",
                self.wire.token_url,
                self.wire.client_id,
                self.scopes.join(" ")
            ),
            secret,
        })
    }
}

/// The start of a sign-in: send the user to `url`, keep `state` and `pkce_verifier` for
/// when they come back with a code.
pub struct AuthorizationRequest {
    /// Where to send the user.
    pub url: Url,
    /// The `state` sent; the redirect must carry it back unchanged.
    pub state: String,
    /// The PKCE verifier for the code exchange.
    pub pkce_verifier: SecretString,
}

impl fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field("url", &self.url.as_str())
            .field("state", &self.state)
            .field("pkce_verifier", &"[redacted]")
            .finish()
    }
}

/// The OAuth2 authorization-code flow with PKCE (S256) and refresh tokens, for signing
/// users in with their account elsewhere.
///
/// ```
/// use commerce_core::{AuthorizationCodeFlow, HttpClient};
/// let http = HttpClient::new("my-crate", "0.1.0");
/// let flow = AuthorizationCodeFlow::new(
///     &http,
///     "shop",
///     "https://shop.example/oauth/authorize",
///     "https://shop.example/oauth/access-token",
///     "my-client-id",
///     Some("my-client-secret".to_owned().into()),
///     "https://app.example/callback",
/// )?
/// .scope("all");
/// let start = flow.authorize_url();
/// assert!(start.url.as_str().contains("code_challenge_method=S256"));
/// // ... the user signs in and comes back with `code` and `state`:
/// // flow.check_state(&start.state, returned_state)?;
/// // let token = flow.exchange(code, &start.pkce_verifier).await?;
/// # Ok::<(), commerce_core::Error>(())
/// ```
pub struct AuthorizationCodeFlow {
    wire: Arc<Wire>,
    auth_url: Url,
    redirect_url: Url,
    scopes: Vec<String>,
}

impl fmt::Debug for AuthorizationCodeFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCodeFlow")
            .field("oauth2", &self.wire)
            .field("auth_url", &self.auth_url.as_str())
            .field("redirect_url", &self.redirect_url.as_str())
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl AuthorizationCodeFlow {
    /// The flow for `provider` with its authorization and token endpoints, the client's id
    /// (and secret, for confidential clients) and the redirect address registered for it.
    /// Defaults: client authentication in the body, form requests.
    pub fn new(
        http: &HttpClient,
        provider: impl Into<Name>,
        auth_url: &str,
        token_url: &str,
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
        redirect_url: &str,
    ) -> Result<Self, Error> {
        let mut wire = Wire::new(http, provider.into(), token_url, client_id.into(), client_secret)?;
        wire.client_auth = ClientAuth::Body;
        Ok(AuthorizationCodeFlow {
            wire: Arc::new(wire),
            auth_url: secure_url(auth_url)?,
            redirect_url: Url::parse(redirect_url)
                .map_err(|e| Error::config(format!("`{redirect_url}` is not a valid redirect URL: {e}")))?,
            scopes: Vec::new(),
        })
    }

    /// Sets how the client authenticates at the token endpoint.
    pub fn client_auth(mut self, client_auth: ClientAuth) -> Self {
        wire_mut(&mut self.wire).client_auth = client_auth;
        self
    }

    /// Asks for a scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    fn client(&self) -> OAuthClient<EndpointSet> {
        self.wire
            .client(
                oauth2::Client::new(ClientId::new(self.wire.client_id.clone()))
                    .set_auth_uri(AuthUrl::from_url(self.auth_url.clone())),
            )
            .set_redirect_uri(RedirectUrl::from_url(self.redirect_url.clone()))
    }

    /// Where to send the user to sign in, with a fresh random `state` and PKCE challenge.
    pub fn authorize_url(&self) -> AuthorizationRequest {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge);
        for s in &self.scopes {
            request = request.add_scope(Scope::new(s.clone()));
        }
        let (url, state) = request.url();
        AuthorizationRequest {
            url,
            state: state.secret().to_owned(),
            pkce_verifier: SecretString::from(verifier.secret().to_owned()),
        }
    }

    /// Checks that the `state` the redirect brought back is the one sent (in constant
    /// time); a mismatch is a forged or stale redirect.
    pub fn check_state(&self, sent: &str, returned: &str) -> Result<(), Error> {
        let same = sent.len() == returned.len()
            && sent
                .bytes()
                .zip(returned.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(())
        } else {
            Err(Error::from(AuthError::new(
                self.wire.provider.clone(),
                "authorize",
                "the returned state does not match the one sent; refusing the code",
            )))
        }
    }

    /// Exchanges the code the user came back with for tokens.
    pub async fn exchange(&self, code: &str, pkce_verifier: &SecretString) -> Result<Token, Error> {
        let span = self.wire.span("authorization_code");
        let started = tokio::time::Instant::now();
        let client = self.client();
        let request = client
            .exchange_code(oauth2::AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.expose_secret().to_owned()));
        let sender = Sender::new(&self.wire);
        let result = request.request_async(&sender).instrument(span.clone()).await;
        // The provider may quote the code or the verifier back.
        let code = SecretString::from(code.to_owned());
        self.wire
            .finish(result, &sender.status, &span, started)
            .map_err(|e| Scrubber::new([&code, pkce_verifier]).error(e))
    }

    /// Gets a new access token (and, when the provider rotates them, a new refresh token).
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<Token, Error> {
        let span = self.wire.span("refresh_token");
        let started = tokio::time::Instant::now();
        let client = self.client();
        let refresh = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let mut request = client.exchange_refresh_token(&refresh);
        for s in &self.scopes {
            request = request.add_scope(Scope::new(s.clone()));
        }
        let sender = Sender::new(&self.wire);
        let result = request.request_async(&sender).instrument(span.clone()).await;
        // The provider may quote the refresh token back ("refresh token rt-... was revoked").
        self.wire
            .finish(result, &sender.status, &span, started)
            .map_err(|e| Scrubber::new([refresh_token]).error(e))
    }
}

/// A [`TokenSource`] that renews access tokens with a refresh token, keeping the newest
/// refresh token when the provider rotates it. Put it in a [`TokenCache`](super::TokenCache)
/// for long-running jobs signed in through the code flow.
pub struct RefreshTokenSource {
    flow: AuthorizationCodeFlow,
    refresh_token: Mutex<SecretString>,
}

impl fmt::Debug for RefreshTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokenSource")
            .field("flow", &self.flow)
            .field("refresh_token", &"[redacted]")
            .finish()
    }
}

impl RefreshTokenSource {
    /// Renews with `refresh_token` through `flow`.
    pub fn new(flow: AuthorizationCodeFlow, refresh_token: SecretString) -> Self {
        RefreshTokenSource {
            flow,
            refresh_token: Mutex::new(refresh_token),
        }
    }

    /// The refresh token to keep for next time (the newest one).
    pub fn current_refresh_token(&self) -> SecretString {
        self.refresh_token
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[async_trait]
impl TokenSource for RefreshTokenSource {
    async fn fetch(&self) -> Result<Token, Error> {
        let current = self.current_refresh_token();
        let token = self.flow.refresh(&current).await?;
        if let Some(rotated) = token.refresh_token() {
            *self.refresh_token.lock().unwrap_or_else(|p| p.into_inner()) = rotated.clone();
        }
        Ok(token)
    }

    fn provider(&self) -> Name {
        self.flow.wire.provider.clone()
    }
}
