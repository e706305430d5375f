//! Safe.Shop: a client-credentials token (JSON or form), and invites told apart by HTTP
//! status only: 201 created, 401 without a valid token, 409 for an order already invited,
//! 422 for a missing or malformed field.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use crate::{SAFESHOP_CLIENT_ID, SAFESHOP_CLIENT_SECRET, Shared};

const P: &str = "safeshop";

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/invites", post(invite))
}

/// The fields of a JSON or form body.
pub(crate) fn fields(headers: &HeaderMap, body: &[u8]) -> Option<HashMap<String, String>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ct.starts_with("application/json") {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        Some(
            v.as_object()?
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect(),
        )
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        Some(url::form_urlencoded::parse(body).into_owned().collect())
    } else {
        None
    }
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

async fn token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.hit(P, "POST /oauth/token");
    s.token_request(P);
    let Some(f) = fields(&headers, &body) else {
        s.violation(P, "token request that is neither JSON nor a form");
        return crate::json(StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}));
    };
    let ok = f.get("grant_type").map(String::as_str) == Some("client_credentials")
        && f.get("client_id").map(String::as_str) == Some(SAFESHOP_CLIENT_ID)
        && f.get("client_secret").map(String::as_str) == Some(SAFESHOP_CLIENT_SECRET);
    if !ok {
        s.violation(P, "token request with wrong credentials");
        return crate::json(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client", "error_description": "Client authentication failed", "message": "Client authentication failed"}),
        );
    }
    let token = {
        let mut w = s.world();
        let t = w.token("ss");
        w.safeshop_tokens.insert(t.clone());
        t
    };
    crate::json(
        StatusCode::OK,
        json!({"token_type": "Bearer", "expires_in": 31_536_000, "access_token": token}),
    )
}

async fn invite(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.hit(P, "POST /invites");
    let authorized = bearer(&headers).is_some_and(|t| s.world().safeshop_tokens.contains(&t));
    if !authorized {
        s.violation(P, "invite without a valid token");
        return crate::json(StatusCode::UNAUTHORIZED, json!({"message": "Unauthenticated."}));
    }
    let Ok(invite) = serde_json::from_slice::<serde_json::Value>(&body) else {
        s.violation(P, "invite body is not JSON");
        return crate::json(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "The given data was invalid."}),
        );
    };
    let email = invite["email"].as_str().unwrap_or_default();
    let order_id = invite["order_id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| invite["order_id"].to_string());
    let mut errors = serde_json::Map::new();
    let (local, domain) = email.split_once('@').unwrap_or(("", ""));
    if local.is_empty() || !domain.contains('.') {
        errors.insert(
            "email".into(),
            json!(["The email must be a valid email address."]),
        );
    }
    if invite["order_id"].is_null() || order_id.trim().is_empty() {
        errors.insert("order_id".into(), json!(["The order id field is required."]));
    }
    if !errors.is_empty() {
        s.violation(
            P,
            format!("invalid invite: {}", serde_json::Value::Object(errors.clone())),
        );
        return crate::json(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "The given data was invalid.", "errors": errors}),
        );
    }
    let mut w = s.world();
    if w.safeshop_invites.contains_key(&order_id) {
        drop(w);
        s.duplicate(P, format!("invite for order {order_id} sent again"));
        return crate::json(
            StatusCode::CONFLICT,
            json!({"message": "An invite for this order already exists."}),
        );
    }
    w.safeshop_invites.insert(order_id, invite);
    drop(w);
    s.created(P, "invites");
    crate::json(StatusCode::CREATED, json!({"success": true}))
}
