//! Per-client rate limit on the booking write endpoints (GCRA via `governor`). The
//! client is the peer address, or — behind a trusted reverse proxy — the nearest
//! untrusted address in `X-Forwarded-For`. The limit is per instance; with N instances
//! behind a balancer a client gets at most N times the configured rate.

use crate::config::settings::RateLimit;
use crate::domain::text::{Lang, Text};
use crate::http::error::{ApiError, Problem};
use actix_governor::governor::NotUntil;
use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::{
    Governor, GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct ClientKey {
    trusted_proxies: Arc<Vec<IpAddr>>,
}

impl ClientKey {
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
}

impl KeyExtractor for ClientKey {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<Self::Key, Self::KeyExtractionError> {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        Ok(self.client_ip(req.peer_addr().map(|a| a.ip()), forwarded))
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        _response: HttpResponseBuilder,
    ) -> HttpResponse {
        let wait = negative
            .wait_time_from(DefaultClock::default().now())
            .as_secs()
            .max(1);
        metrics::counter!("madoguchi_rate_limited_total").increment(1);
        let mut e = ApiError::new(
            Problem::RateLimited,
            Text::owned(
                format!(
                    "{wait}秒ほど待ってから、もう一度お試しください。 / Please retry in about {wait} s."
                ),
                format!("Please retry in about {wait} s."),
            ),
            Lang::Ja,
        );
        e.retry_after = Some(wait);
        e.error_response()
    }
}

/// The configured limiter; every resource wrapped with it shares one budget per client.
#[derive(Clone)]
pub struct Limiter(GovernorConfig<ClientKey, NoOpMiddleware<QuantaInstant>>);

impl Limiter {
    pub fn new(limit: RateLimit, trusted_proxies: Vec<IpAddr>) -> anyhow::Result<Self> {
        let per_minute = u64::from(limit.per_minute.max(1));
        let config = GovernorConfigBuilder::default()
            .period(Duration::from_nanos(60_000_000_000 / per_minute))
            .burst_size(limit.burst.max(1))
            .methods(vec![
                Method::POST,
                Method::DELETE,
                Method::PUT,
                Method::PATCH,
            ])
            .key_extractor(ClientKey {
                trusted_proxies: Arc::new(trusted_proxies),
            })
            .finish()
            .ok_or_else(|| anyhow::anyhow!("invalid rate limit settings"))?;
        Ok(Self(config))
    }

    pub fn middleware(&self) -> Governor<ClientKey, NoOpMiddleware<QuantaInstant>> {
        Governor::new(&self.0)
    }

    /// Forgets the clients whose budget is full again (they would start afresh anyway);
    /// returns how many are still remembered. Without it, every address that ever wrote
    /// stays in memory: millions on the morning of a booking opening.
    pub fn forget_idle(&self) -> usize {
        let limiter = self.0.limiter();
        limiter.retain_recent();
        limiter.shrink_to_fit();
        limiter.len()
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
                    metrics::gauge!("madoguchi_rate_limit_clients").set(remembered as f64);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_trusted_only_from_configured_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let key = ClientKey {
            trusted_proxies: Arc::new(vec![proxy]),
        };
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let spoofed = "198.51.100.1, 203.0.113.7";
        assert_eq!(key.client_ip(Some(proxy), Some(spoofed)), client);
        // A direct client cannot choose its key with the header.
        assert_eq!(key.client_ip(Some(client), Some("198.51.100.1")), client);
        assert_eq!(key.client_ip(Some(proxy), None), proxy);
    }

    fn clients(limiter: &Limiter, n: u8) {
        let governor = limiter.0.limiter();
        for i in 0..n {
            let _ = governor.check_key(&IpAddr::from([10, 0, 0, i]));
        }
    }

    #[test]
    fn clients_are_forgotten_once_their_budget_is_full_again() {
        // One request a minute, no burst: a client that wrote is remembered for a minute.
        let slow = Limiter::new(
            RateLimit {
                per_minute: 1,
                burst: 1,
            },
            Vec::new(),
        )
        .unwrap();
        clients(&slow, 50);
        assert_eq!(slow.forget_idle(), 50);
        // Billions a minute: a budget is full again within nanoseconds.
        let fast = Limiter::new(
            RateLimit {
                per_minute: u32::MAX,
                burst: 1,
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
