//! OAuth2 client credentials on the `oauth2` crate, driven through our own
//! `reqwest::Client` (so the dependency tree holds one reqwest).

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, StatusCode};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RefreshToken, RequestTokenError, Scope,
    StandardRevocableToken, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use tracing::Instrument;
use url::Url;

use super::{Token, TokenSource, jwt_expiry};
use crate::error::{AuthError, DecodeError, Delivery, Error, Name, ProviderError};
use crate::http::HttpClient;
use crate::transport::excerpt;
use crate::url::secure_url;

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
    Ok(match Option::<Secs>::deserialize(d)? {
        Some(Secs::Int(n)) => Some(n),
        Some(Secs::Float(f)) if f.is_finite() && f >= 0.0 => Some(f as u64),
        Some(Secs::Text(s)) => s.trim().parse().ok(),
        _ => None,
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

type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

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
    provider: Name,
    http: HttpClient,
    token_url: Url,
    client_id: String,
    client_secret: SecretString,
    client_auth: ClientAuth,
    format: TokenRequestFormat,
    scopes: Vec<String>,
    extra: Vec<(String, String)>,
    read_jwt_expiry: bool,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("provider", &self.provider)
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("client_auth", &self.client_auth)
            .field("format", &self.format)
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
        let provider = provider.into();
        let client_id = client_id.into();
        if client_id.trim().is_empty() {
            return Err(Error::config(format!(
                "{provider}: the OAuth2 client id is empty"
            )));
        }
        if client_secret.expose_secret().trim().is_empty() {
            return Err(Error::config(format!(
                "{provider}: the OAuth2 client secret is empty"
            )));
        }
        Ok(ClientCredentials {
            token_url: secure_url(token_url)?,
            provider,
            http: http.clone(),
            client_id,
            client_secret,
            client_auth: ClientAuth::Basic,
            format: TokenRequestFormat::Form,
            scopes: Vec::new(),
            extra: Vec::new(),
            read_jwt_expiry: true,
        })
    }

    /// Sets how the client authenticates.
    pub fn client_auth(mut self, client_auth: ClientAuth) -> Self {
        self.client_auth = client_auth;
        self
    }

    /// Sets the body format of the token request.
    pub fn format(mut self, format: TokenRequestFormat) -> Self {
        self.format = format;
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

    /// Whether to read the `exp` claim of JWT access tokens (on by default); the earlier of
    /// it and `expires_in` decides when the token is refreshed.
    pub fn read_jwt_expiry(mut self, on: bool) -> Self {
        self.read_jwt_expiry = on;
        self
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &Url {
        &self.token_url
    }

    fn client(&self) -> OAuthClient {
        let auth_type = match self.client_auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            // Sent in the body by the oauth2 crate; moved into the header by `send` below.
            ClientAuth::BasicUnencoded | ClientAuth::Body => AuthType::RequestBody,
        };
        oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.client_secret.expose_secret().to_owned()))
            .set_token_uri(TokenUrl::from_url(self.token_url.clone()))
            .set_auth_type(auth_type)
    }

    fn classify(
        &self,
        error: RequestTokenError<reqwest::Error, BasicErrorResponse>,
        status: Option<StatusCode>,
    ) -> Error {
        let status_code = status.map(|s| s.as_u16());
        let endpoint: Name = Cow::Borrowed("token");
        match error {
            RequestTokenError::Request(e) => {
                let (delivery, timed_out) = (
                    if e.is_connect() {
                        Delivery::NotSent
                    } else {
                        Delivery::MaybeSent
                    },
                    e.is_timeout() && !e.is_connect(),
                );
                if timed_out {
                    Error::Timeout {
                        provider: self.provider.clone(),
                        endpoint,
                        after: self.http.timeout().unwrap_or_default(),
                        delivery,
                    }
                } else {
                    Error::Transport {
                        provider: self.provider.clone(),
                        endpoint,
                        delivery,
                        source: Arc::new(e),
                    }
                }
            }
            RequestTokenError::ServerResponse(answer) => {
                let code = answer.error().as_ref().to_owned();
                let message = answer
                    .error_description()
                    .cloned()
                    .unwrap_or_else(|| "the token request was refused".to_owned());
                match status_code {
                    Some(s @ (429 | 500..=599)) => {
                        let mut p = ProviderError::new(self.provider.clone(), endpoint, s).with_code(code);
                        p.message = Some(message);
                        Error::from(p)
                    }
                    _ => Error::from(AuthError {
                        status: status_code,
                        code: Some(code),
                        ..AuthError::new(self.provider.clone(), endpoint, message)
                    }),
                }
            }
            RequestTokenError::Parse(e, body) => {
                let path = e.path().to_string();
                match status_code {
                    // An error answer in no standard shape: safe to quote.
                    Some(s) if s != 200 => {
                        let mut p = ProviderError::new(self.provider.clone(), endpoint, s);
                        p.body_excerpt = excerpt(&body, None);
                        if matches!(s, 429 | 500..=599) {
                            Error::from(p)
                        } else {
                            Error::from(AuthError {
                                status: status_code,
                                ..AuthError::new(self.provider.clone(), "token", p.to_string())
                            })
                        }
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

/// What sending a token request needs, owned, so the `oauth2` crate's future borrows
/// nothing of the caller.
struct Wire {
    http: HttpClient,
    token_url: Url,
    client_id: String,
    client_secret: SecretString,
    client_auth: ClientAuth,
    format: TokenRequestFormat,
}

impl Wire {
    /// Sends the token request the `oauth2` crate prepared, through our client, in the
    /// configured shape.
    async fn send(
        &self,
        request: oauth2::HttpRequest,
        status: &Mutex<Option<StatusCode>>,
    ) -> Result<oauth2::HttpResponse, reqwest::Error> {
        let (parts, body) = request.into_parts();
        let mut fields: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
        let mut headers = parts.headers;
        headers.insert(USER_AGENT, self.http.user_agent().clone());
        if self.client_auth == ClientAuth::BasicUnencoded {
            use base64::Engine as _;
            fields.retain(|(k, _)| k != "client_id" && k != "client_secret");
            let raw = format!("{}:{}", self.client_id, self.client_secret.expose_secret());
            let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
            if let Ok(mut v) = HeaderValue::from_str(&format!("Basic {encoded}")) {
                v.set_sensitive(true);
                headers.insert(AUTHORIZATION, v);
            }
        }
        if let Some(v) = headers.get_mut(AUTHORIZATION) {
            v.set_sensitive(true);
        }
        let body = match self.format {
            TokenRequestFormat::Form => {
                let mut s = url::form_urlencoded::Serializer::new(String::new());
                s.extend_pairs(&fields);
                s.finish().into_bytes()
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
        let mut builder = self
            .http
            .client()
            .request(parts.method, self.token_url.clone())
            .headers(headers)
            .body(body);
        if let Some(t) = self.http.timeout() {
            builder = builder.timeout(t);
        }
        let response = builder.send().await.map_err(reqwest::Error::without_url)?;
        *status.lock().unwrap_or_else(|p| p.into_inner()) = Some(response.status());
        let mut out = http::Response::builder().status(response.status());
        if let Some(h) = out.headers_mut() {
            *h = response.headers().clone();
        }
        let bytes = response.bytes().await.map_err(reqwest::Error::without_url)?;
        Ok(out
            .body(bytes.to_vec())
            .expect("status and headers came from a valid answer"))
    }
}

/// Hands the `oauth2` crate's requests to [`ClientCredentials::send`].
struct Sender {
    wire: Arc<Wire>,
    status: Arc<Mutex<Option<StatusCode>>>,
}

impl<'c> oauth2::AsyncHttpClient<'c> for Sender {
    type Error = reqwest::Error;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, reqwest::Error>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        let wire = self.wire.clone();
        let status = self.status.clone();
        Box::pin(async move { wire.send(request, &status).await })
    }
}

#[async_trait]
impl TokenSource for ClientCredentials {
    async fn fetch(&self) -> Result<Token, Error> {
        let span = tracing::info_span!(
            "commerce.token",
            provider = %self.provider,
            grant = "client_credentials",
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let started = tokio::time::Instant::now();
        let client = self.client();
        let mut request = client.exchange_client_credentials();
        for s in &self.scopes {
            request = request.add_scope(Scope::new(s.clone()));
        }
        for (k, v) in &self.extra {
            request = request.add_extra_param(k.clone(), v.clone());
        }
        let status = Arc::new(Mutex::new(None));
        let sender = Sender {
            wire: Arc::new(Wire {
                http: self.http.clone(),
                token_url: self.token_url.clone(),
                client_id: self.client_id.clone(),
                client_secret: self.client_secret.clone(),
                client_auth: self.client_auth,
                format: self.format,
            }),
            status: status.clone(),
        };
        let result = request.request_async(&sender).instrument(span.clone()).await;
        let status = *status.lock().unwrap_or_else(|p| p.into_inner());
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        if let Some(s) = status {
            span.record("status", s.as_u16());
        }
        let answer = result.map_err(|e| self.classify(e, status))?;
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
}
