//! Live congestion for displays: one task per instance listens for queue changes (from
//! this instance, or from others through Redis pub/sub), recomputes the office's figures
//! once, and hands the JSON to every server-sent-event client through a watch channel.
//! Thousands of displays cost one computation per change, and a slow client only ever
//! skips to the newest figures.

use crate::domain::OfficeId;
use crate::http::queue_dto::CongestionView;
use crate::service::queue::OfficeCongestion;
use crate::service::queue::QueueService;
use actix_web::web::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// Even without changes, figures are refreshed this often (estimates age with time).
pub const REFRESH: Duration = Duration::from_secs(15);

/// At most this often per instance the figures are recomputed after changes: under a rush
/// of tickets the changes of this interval share one computation (and one event to every
/// display). Displays see a change within this interval plus the computation.
pub const MIN_INTERVAL: Duration = Duration::from_millis(250);

/// When the next refresh after changes may start: [`MIN_INTERVAL`] after the last one
/// ended, or longer when refreshing was slow, so that it never takes more than a tenth
/// of the time (a very long queue slows the displays a little, never the counters).
fn next_refresh(began: tokio::time::Instant) -> tokio::time::Instant {
    let ended = tokio::time::Instant::now();
    ended + MIN_INTERVAL.max((ended - began) * 9)
}

pub struct LiveCongestion {
    /// The latest figures of each office as a whole server-sent event, built once per
    /// change and shared (reference-counted) by every stream.
    channels: HashMap<OfficeId, watch::Sender<Option<Bytes>>>,
    /// The JSON of the figures last served per office: the service hands out the same
    /// `Arc` until the figures change, so a page read serialises only after a change.
    served: Mutex<HashMap<OfficeId, (Arc<OfficeCongestion>, Bytes)>>,
}

impl LiveCongestion {
    pub fn new(offices: impl IntoIterator<Item = OfficeId>) -> Arc<Self> {
        Arc::new(Self {
            channels: offices
                .into_iter()
                .map(|o| (o, watch::channel(None).0))
                .collect(),
            served: Mutex::new(HashMap::new()),
        })
    }

    pub fn watch(&self, office: &OfficeId) -> Option<watch::Receiver<Option<Bytes>>> {
        self.channels.get(office).map(|c| c.subscribe())
    }

    /// The congestion page's JSON for `figures`, serialised once per change.
    pub fn page_json(&self, figures: &Arc<OfficeCongestion>) -> Result<Bytes, serde_json::Error> {
        let mut served = self.served.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cached, json)) = served.get(&figures.office)
            && Arc::ptr_eq(cached, figures)
        {
            return Ok(json.clone());
        }
        let json = Bytes::from(serde_json::to_vec(&CongestionView::of(figures))?);
        served.insert(figures.office.clone(), (figures.clone(), json.clone()));
        Ok(json)
    }

    /// Recomputes one office's figures and tells its clients.
    pub async fn refresh(&self, queue: &QueueService, office: &OfficeId) {
        let Some(channel) = self.channels.get(office) else {
            return;
        };
        match queue.congestion(office).await {
            Ok(c) => match serde_json::to_string(&CongestionView::of(&c)) {
                Ok(json) => {
                    channel.send_replace(Some(Bytes::from(format!(
                        "event: congestion\ndata: {json}\n\n"
                    ))));
                }
                Err(e) => tracing::error!(error = %e, "cannot serialise congestion"),
            },
            Err(e) => tracing::warn!(error = %e, office = %office, "cannot compute congestion now"),
        }
    }

    /// Runs until `stop`: refreshes on every published change and every [`REFRESH`].
    pub async fn run(self: Arc<Self>, queue: Arc<QueueService>, mut stop: watch::Receiver<bool>) {
        let mut events = queue.hot().subscribe();
        let mut tick = tokio::time::interval(REFRESH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut allowed = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tick.tick() => {
                    for office in self.channels.keys() {
                        self.refresh(&queue, office).await;
                    }
                }
                event = events.recv() => match event {
                    Ok(first) => {
                        // Coalesce a burst of changes into one refresh per office.
                        tokio::time::sleep_until(allowed).await;
                        let began = tokio::time::Instant::now();
                        let mut offices = vec![first];
                        while let Ok(more) = events.try_recv() {
                            if !offices.contains(&more) {
                                offices.push(more);
                            }
                        }
                        for office in offices {
                            // The change may come from another instance: drop cached figures.
                            queue.changed_elsewhere(&office);
                            self.refresh(&queue, &office).await;
                        }
                        allowed = next_refresh(began);
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        tokio::time::sleep_until(allowed).await;
                        let began = tokio::time::Instant::now();
                        for office in self.channels.keys() {
                            queue.changed_elsewhere(office);
                            self.refresh(&queue, office).await;
                        }
                        allowed = next_refresh(began);
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }
}
