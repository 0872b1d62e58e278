//! Per-client rate limit on every write (GCRA via `governor`). The client is the peer
//! address, or — behind a trusted reverse proxy — the nearest untrusted address in
//! `X-Forwarded-For`. The limit is per instance; with N instances behind a balancer a
//! client gets at most N times the configured rate.

use crate::config::settings::RateLimit;
use crate::domain::text::Text;
use crate::http::ClientLang;
use crate::http::error::{ApiError, Problem};
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct ClientKey {
    trusted_proxies: Arc<Vec<IpAddr>>,
}

impl ClientKey {
    pub fn new(trusted_proxies: Vec<IpAddr>) -> Self {
        Self {
            trusted_proxies: Arc::new(trusted_proxies),
        }
    }

    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> IpAddr {
        let peer = peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        // Walk X-Forwarded-For from the right: the first address our proxies did not add.
        forwarded_for
            .into_iter()
            .flat_map(|h| h.rsplit(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .find(|ip| !self.trusted_proxies.contains(ip))
            .unwrap_or(peer)
    }

    /// The client of a request.
    pub fn of(&self, req: &actix_web::HttpRequest) -> IpAddr {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        self.client_ip(req.peer_addr().map(|a| a.ip()), forwarded)
    }
}

/// Whole seconds to wait, rounded up: a client that waits exactly `Retry-After` must find
/// its next request allowed (rounded down, a wait of 1.9 s was announced as 1 s).
pub fn retry_after_secs(wait: Duration) -> u64 {
    u64::try_from(wait.as_nanos().div_ceil(1_000_000_000).max(1)).unwrap_or(u64::MAX)
}

/// A 429 with `Retry-After`, in the client's language.
pub fn too_many(req: &actix_web::HttpRequest, wait: Duration) -> ApiError {
    let wait = retry_after_secs(wait);
    let mut e = ApiError::new(
        Problem::RateLimited,
        Text::owned(
            format!("{wait}秒ほど待ってから、もう一度お試しください。"),
            format!("Please retry in about {wait} s."),
        ),
        ClientLang::of(req),
    );
    e.retry_after = Some(wait);
    e
}

/// The client of a request as the limiter sees it (behind trusted proxies, the nearest
/// untrusted `X-Forwarded-For` entry); `None` when no limiter is configured.
pub fn client_of(req: &actix_web::HttpRequest) -> Option<IpAddr> {
    req.app_data::<web::Data<Limiter>>()
        .map(|l| l.client_key().of(req))
}

fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// The per-client budget of writes (GCRA), shared by every write of the service, API and
/// pages alike: a booking through the form costs what one through the API does. Addresses
/// in `rate_limit.exempt` (a town hall's kiosks, its counters' network) are not limited.
#[derive(Clone)]
pub struct Limiter {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    key: ClientKey,
    exempt: Arc<Vec<IpAddr>>,
    /// How a page (not `/api/`) is refused: HTML for a resident's browser.
    page: Option<RefusalPage>,
}

/// Renders a page's refusal, given the seconds to wait.
pub type RefusalPage = fn(&actix_web::HttpRequest, u64) -> actix_web::HttpResponse;

impl Limiter {
    pub fn new(limit: &RateLimit, trusted_proxies: Vec<IpAddr>) -> anyhow::Result<Self> {
        let per_minute = u64::from(limit.per_minute.max(1));
        let quota = Quota::with_period(Duration::from_nanos(60_000_000_000 / per_minute))
            .ok_or_else(|| anyhow::anyhow!("invalid rate limit settings"))?
            .allow_burst(NonZeroU32::new(limit.burst.max(1)).unwrap_or(NonZeroU32::MIN));
        Ok(Self {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(quota)),
            key: ClientKey::new(trusted_proxies),
            exempt: Arc::new(limit.exempt.clone()),
            page: None,
        })
    }

    /// Pages are refused with `page` instead of problem+json.
    pub fn with_page(mut self, page: RefusalPage) -> Self {
        self.page = Some(page);
        self
    }

    pub fn client_key(&self) -> &ClientKey {
        &self.key
    }

    /// Takes one write from the client's budget; how long to wait when it is spent.
    fn check(&self, req: &actix_web::HttpRequest) -> Result<(), Duration> {
        let client = self.key.of(req);
        if self.exempt.contains(&client) {
            return Ok(());
        }
        self.limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// How many clients the limiter remembers now.
    pub fn remembered(&self) -> usize {
        self.limiter.len()
    }

    /// Forgets the clients whose budget is full again (they would start afresh anyway);
    /// returns how many are still remembered. Without it, every address that ever wrote
    /// stays in memory: millions on the morning of a booking opening.
    pub fn forget_idle(&self) -> usize {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        self.limiter.len()
    }

    /// Calls `forget_idle` every `every` until `stop` turns true.
    pub async fn forget_idle_every(
        self,
        every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tick.tick() => {
                    let remembered = self.forget_idle();
                    metrics::gauge!("madoguchi_rate_limit_clients").set(crate::num::f64_of(remembered));
                }
            }
        }
    }
}

/// The middleware (around every route; the limiter is app data).
pub async fn limit_writes<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, actix_web::Error> {
    if is_write(req.method())
        && let Some(limiter) = req.app_data::<web::Data<Limiter>>()
        && let Err(wait) = limiter.check(req.request())
    {
        metrics::counter!("madoguchi_rate_limited_total").increment(1);
        metrics::gauge!("madoguchi_rate_limit_clients")
            .set(crate::num::f64_of(limiter.remembered()));
        let api = req.path().starts_with("/api/");
        let response = match limiter.page.filter(|_| !api) {
            Some(page) => page(req.request(), retry_after_secs(wait)),
            None => actix_web::ResponseError::error_response(&too_many(req.request(), wait)),
        };
        return Ok(req.into_response(response).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_trusted_only_from_configured_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let key = ClientKey::new(vec![proxy]);
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let spoofed = "198.51.100.1, 203.0.113.7";
        assert_eq!(key.client_ip(Some(proxy), Some(spoofed)), client);
        // A direct client cannot choose its key with the header.
        assert_eq!(key.client_ip(Some(client), Some("198.51.100.1")), client);
        assert_eq!(key.client_ip(Some(proxy), None), proxy);
    }

    fn clients(limiter: &Limiter, n: u8) {
        for i in 0..n {
            let _ = limiter.limiter.check_key(&IpAddr::from([10, 0, 0, i]));
        }
    }

    #[test]
    fn retry_after_is_never_shorter_than_the_wait() {
        assert_eq!(retry_after_secs(Duration::from_millis(1_900)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2_000)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2_001)), 3);
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn clients_are_forgotten_once_their_budget_is_full_again() {
        // One request a minute, no burst: a client that wrote is remembered for a minute.
        let slow = Limiter::new(
            &RateLimit {
                per_minute: 1,
                burst: 1,
                exempt: Vec::new(),
            },
            Vec::new(),
        )
        .unwrap();
        clients(&slow, 50);
        assert_eq!(slow.forget_idle(), 50);
        // Billions a minute: a budget is full again within nanoseconds.
        let fast = Limiter::new(
            &RateLimit {
                per_minute: u32::MAX,
                burst: 1,
                exempt: Vec::new(),
            },
            Vec::new(),
        )
        .unwrap();
        clients(&fast, 50);
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_micros(1) {}
        assert_eq!(fast.forget_idle(), 0);
    }
}
