//! CSRF protection of the page forms: a double-submit token. A random token lives in a
//! `csrf` cookie (HttpOnly, SameSite=Strict) and in a hidden field of every form; a POST
//! is accepted only when both are present and equal (compared in constant time). Another
//! site can neither read the cookie nor make the browser send it (SameSite=Strict), so it
//! cannot forge a matching pair.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use rand::RngCore;
use subtle::ConstantTimeEq;

pub const CSRF_COOKIE: &str = "csrf";
pub const CSRF_FIELD: &str = "csrf";

/// The form token of this browser: the cookie's, or a new one to set.
pub struct CsrfToken {
    pub value: String,
    /// Set on the response when the browser had no token yet.
    pub new_cookie: Option<Cookie<'static>>,
}

impl CsrfToken {
    pub fn of(req: &HttpRequest) -> Self {
        if let Some(c) = req.cookie(CSRF_COOKIE)
            && is_well_formed(c.value())
        {
            return Self {
                value: c.value().to_owned(),
                new_cookie: None,
            };
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let value = data_encoding::BASE64URL_NOPAD.encode(&bytes);
        let cookie = Cookie::build(CSRF_COOKIE, value.clone())
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .finish();
        Self {
            value,
            new_cookie: Some(cookie),
        }
    }
}

fn is_well_formed(v: &str) -> bool {
    v.len() == 43
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A page with a form: sets the token cookie when the browser had none, and keeps the
/// page out of caches (it carries the token, and often a resident's details).
pub fn form_answer(
    mut response: actix_web::HttpResponse,
    token: CsrfToken,
) -> actix_web::HttpResponse {
    if let Some(cookie) = token.new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    response
}

/// Whether a submitted form's token matches the browser's cookie.
pub fn verify(req: &HttpRequest, submitted: &str) -> bool {
    match req.cookie(CSRF_COOKIE) {
        Some(c) if is_well_formed(c.value()) => {
            bool::from(c.value().as_bytes().ct_eq(submitted.as_bytes()))
        }
        _ => false,
    }
}
