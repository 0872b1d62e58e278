//! The staff extractor: `Authorization: Bearer <token>` checked against the ledger. The
//! token is never logged (access logs carry route patterns, not headers).

use crate::http::error::ApiError;
use crate::http::{AppState, ClientLang};
use crate::service::staff::{AuthError, StaffPrincipal};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

pub struct Staff(pub StaffPrincipal);

/// The bearer token of a request, if any.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned())
}

pub async fn authenticate(
    state: &AppState,
    token: Option<String>,
    client: Option<std::net::IpAddr>,
    lang: crate::domain::text::Lang,
) -> Result<StaffPrincipal, ApiError> {
    let token = token.ok_or_else(|| ApiError::unauthenticated(lang))?;
    state
        .staff
        .authenticate(&token, client)
        .await
        .map_err(|e| match e {
            AuthError::Unauthenticated => ApiError::unauthenticated(lang),
            AuthError::TooManyGuesses(wait) => ApiError::too_many_guesses(wait, lang),
            AuthError::Store(e) => ApiError::from_booking(e.into(), lang),
        })
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        let lang = ClientLang::of(req);
        let client = crate::http::rate_limit::client_of(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(lang))?;
            authenticate(&state, token, client, lang).await.map(Staff)
        })
    }
}
