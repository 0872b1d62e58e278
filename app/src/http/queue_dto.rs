//! JSON shapes of tickets, counters and congestion.

use crate::domain::office::Municipality;
use crate::domain::procedure::{PIN_NOTICE, ProcedureId};
use crate::domain::queue::{Level, TicketClass, TicketStatus, WaitEstimate};
use crate::domain::text::Text;
use crate::domain::time::to_tokyo_rfc3339;
use crate::service::queue::{
    OfficeCongestion, TicketInfo, TypicalCell, intake_message, intake_reason,
};
use crate::store::queue::Ticket;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A walk-in ticket request from a kiosk (or staff at reception).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TicketBody {
    /// Procedure id, e.g. `cert_renewal`.
    pub procedure: String,
    /// A priority ticket (e.g. assistance needed). Only staff may issue it (send the staff
    /// token); priority tickets go ahead of normal ones with a fairness ratio.
    #[serde(default)]
    pub needs_assistance: bool,
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: BTreeMap<String, Value>,
}

/// Staff check a resident in by the reservation reference (they see the resident).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckInBody {
    pub reference: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: BTreeMap<String, Value>,
}

/// Moves the ticket at the counter to another line.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferBody {
    pub line_id: String,
    /// Keep its place in the new line (else it goes last); the office's rule when omitted.
    pub keep_place: Option<bool>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: BTreeMap<String, Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CounterRef {
    pub id: String,
    pub name: Text,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    /// The ticket's public id: its status URL's only key (the ticket's id and 128 bits of
    /// MAC, 43 URL-safe characters). Send it to read the ticket or to leave the line.
    pub id: String,
    /// The number shown and called, e.g. `A-012`.
    pub number: String,
    pub office_id: String,
    pub line_id: String,
    pub procedure: ProcedureId,
    pub procedure_name: Text,
    pub class: TicketClass,
    pub status: TicketStatus,
    /// Waiting only: 1-based place in its line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ahead: Option<u32>,
    /// Waiting only: the estimated wait until called.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_wait: Option<WaitEstimate>,
    /// Once called: where to go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<CounterRef>,
    pub issued_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub called_at: Option<String>,
    pub status_url: String,
    pub pin_notice: Text,
}

impl TicketView {
    /// `token`: the ticket's public id (`QueueService::ticket_token`).
    pub fn of(info: &TicketInfo, municipality: &Municipality, token: String) -> Self {
        let t = &info.ticket;
        let office = municipality.office(t.office_id.as_str());
        let counter = t.counter_id.as_ref().map(|c| CounterRef {
            id: c.to_string(),
            name: office
                .and_then(|o| o.counter(c.as_str()))
                .map(|k| k.name.clone())
                .unwrap_or_else(|| Text::owned(c.to_string(), c.to_string())),
        });
        TicketView {
            status_url: format!("/api/v1/tickets/{token}"),
            id: token,
            number: t.display.clone(),
            office_id: t.office_id.to_string(),
            line_id: t.line_id.to_string(),
            procedure: t.procedure,
            procedure_name: t.procedure.info().name.clone(),
            class: t.class,
            status: t.status,
            position: info.position,
            ahead: info.ahead,
            estimated_wait: info.estimate,
            counter,
            issued_at: to_tokyo_rfc3339(t.issued_at),
            called_at: t.called_at.map(to_tokyo_rfc3339),
            pin_notice: PIN_NOTICE,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LevelView {
    pub level: Level,
    /// 空いている / やや混雑 / 混雑 — always shown with the icon, never colour alone.
    pub label: Text,
    /// `circle`, `triangle` or `cross`.
    pub icon: &'static str,
}

impl LevelView {
    pub fn of(level: Level) -> Self {
        LevelView {
            level,
            label: level.label(),
            icon: level.icon(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeView {
    pub open: bool,
    /// When closed: office_closed, reservation_only, not_walk_in, not_yet_open, ended, full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Text>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceTimeView {
    pub procedure: ProcedureId,
    /// Observed mean minutes at the counter (learnt from real services).
    pub minutes: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineCongestionView {
    pub line_id: String,
    pub prefix: String,
    pub name: Text,
    pub waiting: u32,
    /// Numbers now called or being served at this line's counters.
    pub now_calling: Vec<String>,
    pub counters_open: u32,
    pub service_minutes: Vec<ServiceTimeView>,
    /// For someone who joins now; null when it cannot be told.
    pub estimated_wait: Option<WaitEstimate>,
    #[serde(flatten)]
    pub level: LevelView,
    pub intake: IntakeView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CounterStateView {
    pub counter_id: String,
    pub name: Text,
    pub lines: Vec<String>,
    pub paused: bool,
    /// The number at this counter now (called or being served).
    pub number: Option<String>,
    pub status: Option<TicketStatus>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecentCallView {
    pub number: String,
    pub counter_id: Option<String>,
    pub called_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CongestionView {
    pub office_id: String,
    pub name: Text,
    /// The worst level of the office's lines.
    #[serde(flatten)]
    pub level: LevelView,
    pub lines: Vec<LineCongestionView>,
    pub counters: Vec<CounterStateView>,
    /// Most recent calls, newest first.
    pub recent_calls: Vec<RecentCallView>,
    pub updated_at: String,
}

fn recent(t: &Ticket) -> RecentCallView {
    RecentCallView {
        number: t.display.clone(),
        counter_id: t.counter_id.as_ref().map(|c| c.to_string()),
        called_at: t.called_at.map(to_tokyo_rfc3339),
    }
}

impl CongestionView {
    pub fn of(c: &OfficeCongestion) -> Self {
        CongestionView {
            office_id: c.office.to_string(),
            name: c.name.clone(),
            level: LevelView::of(c.level),
            lines: c
                .lines
                .iter()
                .map(|l| LineCongestionView {
                    line_id: l.line.id.to_string(),
                    prefix: l.line.prefix.clone(),
                    name: l.line.name.clone(),
                    waiting: l.waiting,
                    now_calling: l.now_calling.clone(),
                    counters_open: l.counters_open,
                    service_minutes: l
                        .service_minutes
                        .iter()
                        .map(|(p, m)| ServiceTimeView {
                            procedure: *p,
                            minutes: (m * 10.0).round() / 10.0,
                        })
                        .collect(),
                    estimated_wait: l.estimate,
                    level: LevelView::of(l.level),
                    intake: match &l.intake {
                        Ok(()) => IntakeView {
                            open: true,
                            reason: None,
                            message: None,
                        },
                        Err(closed) => IntakeView {
                            open: false,
                            reason: Some(intake_reason(closed)),
                            message: Some(intake_message(closed)),
                        },
                    },
                })
                .collect(),
            counters: c
                .counters
                .iter()
                .map(|k| CounterStateView {
                    counter_id: k.id.to_string(),
                    name: k.name.clone(),
                    lines: k.lines.iter().map(|l| l.to_string()).collect(),
                    paused: k.paused,
                    number: k.current.as_ref().map(|t| t.display.clone()),
                    status: k.current.as_ref().map(|t| t.status),
                })
                .collect(),
            recent_calls: c.recent.iter().map(recent).collect(),
            updated_at: to_tokyo_rfc3339(c.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CongestionListView {
    pub offices: Vec<CongestionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TypicalCellView {
    /// mon … sun
    pub weekday: &'static str,
    /// Hour of the day (Tokyo), e.g. 9 for 09:00–09:59.
    pub hour: u32,
    pub samples: u32,
    pub avg_waiting: f64,
    pub avg_wait_p50_minutes: Option<f64>,
    #[serde(flatten)]
    pub level: LevelView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TypicalLineView {
    pub line_id: String,
    pub cells: Vec<TypicalCellView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TypicalView {
    pub office_id: String,
    /// How many past weeks the figures come from.
    pub weeks: i64,
    pub lines: Vec<TypicalLineView>,
}

pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl TypicalView {
    pub fn of(office: &str, weeks: i64, cells: &[TypicalCell]) -> Self {
        let mut lines: Vec<TypicalLineView> = Vec::new();
        for c in cells {
            let cell = TypicalCellView {
                weekday: WEEKDAYS
                    .get(usize::try_from(c.weekday % 7).unwrap_or_default())
                    .copied()
                    .unwrap_or_default(),
                hour: c.hour,
                samples: c.samples,
                avg_waiting: (c.avg_waiting * 10.0).round() / 10.0,
                avg_wait_p50_minutes: c.avg_wait_p50.map(|v| (v * 10.0).round() / 10.0),
                level: LevelView::of(c.level),
            };
            match lines.iter_mut().find(|l| l.line_id == c.line.as_str()) {
                Some(line) => line.cells.push(cell),
                None => lines.push(TypicalLineView {
                    line_id: c.line.to_string(),
                    cells: vec![cell],
                }),
            }
        }
        TypicalView {
            office_id: office.to_owned(),
            weeks,
            lines,
        }
    }
}

/// One row of the open-data congestion history (CSV columns in this order).
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryRow {
    pub office_id: String,
    pub line_id: String,
    /// RFC 3339, Tokyo time.
    pub taken_at: String,
    pub waiting: u32,
    pub counters_open: u32,
    pub wait_p50_minutes: Option<u32>,
    pub wait_p90_minutes: Option<u32>,
    pub level: Level,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// One office; all offices when omitted.
    pub office_id: Option<String>,
    /// First day, `YYYY-MM-DD` (Tokyo); default: 7 days before `to`.
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (Tokyo); default: today. At most 92 days.
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    /// Column meanings: see docs/QUEUE.md ("Open data").
    pub rows: Vec<HistoryRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub at: String,
    /// issued, called, recalled, started, finished, no_show, transferred, cancelled,
    /// paused, resumed.
    pub kind: String,
    /// `kiosk`, `resident`, `system`, or `staff:<token id>` (never the token).
    pub actor: String,
    pub ticket_id: Option<String>,
    pub counter_id: Option<String>,
}

/// A staff member's event on a booking of the office.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingAuditView {
    pub at: String,
    /// booked (for a caller, by phone), viewed, rescheduled, cancelled, checked_in, …
    pub kind: String,
    /// `staff:<token id>` (never the token).
    pub actor: String,
    pub reservation_id: Option<String>,
    /// What was noted, e.g. `{"channel":"phone","consent":true}` or the new slot.
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub office_id: String,
    pub date: String,
    pub events: Vec<AuditEntryView>,
    /// Staff's events on the office's bookings that day.
    pub booking_events: Vec<BookingAuditView>,
    /// Whether the day's sealed audit chain still holds (`madoguchi audit verify`).
    pub verification: crate::service::audit::Verification,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The Tokyo day, `YYYY-MM-DD`; today when omitted.
    pub date: Option<String>,
}
