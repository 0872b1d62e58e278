//! The JSON shapes of the API (requests and answers), with their OpenAPI schemas. Times
//! are RFC 3339 in Tokyo time (`+09:00`); dates are `YYYY-MM-DD` (Tokyo calendar).

use crate::domain::booking::BookingPolicy;
use crate::domain::calendar::{ClosureRule, DateRule, TimeWindow};
use crate::domain::office::{Municipality, Office};
use crate::domain::procedure::{IdentityKind, PIN_NOTICE, ProcedureId};
use crate::domain::text::Text;
use crate::domain::time::{HhMm, to_tokyo_rfc3339, tokyo_date};
use crate::store::{Reservation, ReservationStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use utoipa::ToSchema;

/// A booking request. No PIN is ever asked for: a request carrying a field that looks
/// like one is refused.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BookingBody {
    /// Office id, e.g. `main`.
    pub office_id: String,
    /// Procedure id, e.g. `cert_renewal`.
    pub procedure: String,
    /// Slot start, RFC 3339, e.g. `2026-12-04T09:00:00+09:00`.
    pub start: String,
    pub resident: ResidentBody,
    /// A representative (代理人) books for the applicant.
    #[serde(default)]
    pub proxy: bool,
    /// Card pickup: the number on the notification postcard (交付通知書番号).
    pub notice_number: Option<String>,
    /// The applicant's date of birth, `YYYY-MM-DD`: required for every booking. With
    /// the name (or a card pickup's postcard number) it is who the applicant is, for the
    /// one-booking-per-person rule; a missing one is a 422 `missing-field`.
    pub birth_date: Option<String>,
    /// Certificate renewal: the certificate's expiry date, `YYYY-MM-DD`.
    pub certificate_expiry: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResidentBody {
    /// The applicant's name, as on the card.
    pub name: String,
    /// E-mail address: where the booking's messages go (kept until the retention period
    /// ends); with the reference it also opens the booking.
    pub email: Option<String>,
    /// Phone number, to reach the applicant (stored only as a keyed hash); with the
    /// reference it also opens the booking.
    pub phone: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: BTreeMap<String, Value>,
}

/// A provisional hold of a seat while the resident fills in the form.
#[derive(Debug, Deserialize, ToSchema)]
pub struct HoldBody {
    pub office_id: String,
    pub procedure: String,
    /// Slot start, RFC 3339.
    pub start: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: BTreeMap<String, Value>,
}

/// Confirms a hold with the resident's details.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConfirmBody {
    pub resident: ResidentBody,
    #[serde(default)]
    pub proxy: bool,
    pub notice_number: Option<String>,
    pub birth_date: Option<String>,
    pub certificate_expiry: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: BTreeMap<String, Value>,
}

/// Opens a booking without its secret: one or both of what the resident gave at booking.
/// Every factor sent must match.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AccessBody {
    /// The e-mail address or phone number given at booking (typed any way).
    pub contact: Option<String>,
    /// The birth date given at booking, `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: BTreeMap<String, Value>,
}

/// Moves a booking to another slot (and optionally another office).
#[derive(Debug, Deserialize, ToSchema)]
pub struct RescheduleBody {
    /// The new slot start, RFC 3339.
    pub start: String,
    /// Another office offering the procedure; the same office when omitted.
    pub office_id: Option<String>,
    /// Certificate renewal: the expiry date again, to check the new day.
    pub certificate_expiry: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// Procedure id.
    pub procedure: String,
    /// First day, `YYYY-MM-DD`; default: the first bookable day.
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD`; default: two weeks after `from`. At most 62 days.
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotView {
    pub start: String,
    pub end: String,
    pub capacity: u16,
    pub remaining: u16,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClosedDayView {
    pub date: String,
    pub kind: crate::domain::calendar::ClosureKind,
    pub name: Text,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WindowView {
    /// First day that can be booked now.
    pub first: String,
    /// Last day that can be booked now.
    pub last: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityView {
    pub office_id: String,
    pub procedure: ProcedureId,
    pub booking_window: WindowView,
    pub slots: Vec<SlotView>,
    /// Days in the range on which the office is closed, with the reason.
    pub closed_days: Vec<ClosedDayView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfficeProcedureView {
    pub id: ProcedureId,
    pub name: Text,
    /// Bookable online; otherwise walk-in only at this office.
    pub bookable: bool,
    /// Seats per slot (reservable counters).
    pub capacity: u16,
    pub slot_minutes: u16,
    /// A representative (代理人) is accepted here.
    pub proxy: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BookingPolicyView {
    pub opens_days_ahead: u16,
    /// Time of day (Tokyo) at which a new day opens for booking.
    pub opens_at: String,
    pub closes_days_before: u16,
    pub cancel_days_before: u16,
    pub hold_minutes: u16,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfficeView {
    pub id: String,
    pub name: Text,
    pub address: Text,
    pub phone: Option<String>,
    pub counters: u16,
    /// Opening windows per weekday, e.g. `["08:30-12:00", "13:00-17:00"]`.
    pub hours: WeeklyHoursView,
    /// Hours on national holidays, for offices that open on them.
    pub holiday_hours: Option<Vec<String>>,
    /// Closure rules, by name (e.g. national holidays, year-end).
    pub closures: Vec<Text>,
    /// Special open days (e.g. reservation-only holiday windows).
    pub special_days: Vec<SpecialDayView>,
    /// Slots end by this time (the national server is reachable only until 20:00).
    pub evening_cutoff: Option<String>,
    pub booking: BookingPolicyView,
    pub procedures: Vec<OfficeProcedureView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SpecialDayView {
    pub name: Text,
    pub hours: Vec<String>,
    pub reservation_only: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfficesView {
    pub municipality: Text,
    pub offices: Vec<OfficeView>,
    /// Days when the national card system is down and no office can do card procedures.
    pub system_down: Vec<Text>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityView {
    /// Card pickup: the postcard number and the date of birth.
    NoticeAndBirthDate,
    /// The name and the date of birth, with an e-mail address or a phone number to
    /// reach the applicant.
    Contact,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedureView {
    pub id: ProcedureId,
    pub name: Text,
    /// Nominal minutes at the counter (waits are estimated from observed times).
    pub nominal_minutes: u16,
    pub proxy_possible: bool,
    /// What identifies the resident when booking.
    pub identity: IdentityView,
    pub requires_certificate_expiry: bool,
    pub bring: Vec<Text>,
    pub bring_proxy: Vec<Text>,
    pub fee: Option<Text>,
    /// Services that pause for a while after the procedure.
    pub afterwards: Vec<Text>,
    /// Offices that offer it.
    pub offices: Vec<String>,
    /// Offices where it can be booked online.
    pub bookable_at: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProceduresView {
    pub procedures: Vec<ProcedureView>,
    /// Staff never ask for a PIN.
    pub pin_notice: Text,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfficeSummary {
    pub id: String,
    pub name: Text,
    pub address: Text,
    pub phone: Option<String>,
    pub hours: WeeklyHoursView,
}

/// A reservation (or hold) as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationView {
    /// Public reference (128 random bits). Keep it with the secret.
    pub reference: String,
    /// Shown once at booking (and again on an idempotent retry): needed to view, change
    /// or cancel the booking, in the `X-Reservation-Secret` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub status: ReservationStatus,
    pub office_id: String,
    pub procedure: ProcedureId,
    #[schema(value_type = Text)]
    pub procedure_name: Prewritten,
    pub start: String,
    pub end: String,
    /// Holds only: when the hold runs out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_expires_at: Option<String>,
    pub proxy: bool,
    /// What to bring.
    #[schema(value_type = Vec<Text>)]
    pub bring: Prewritten,
    #[schema(value_type = Option<Text>)]
    pub fee: Prewritten,
    #[schema(value_type = OfficeSummary)]
    pub office: Prewritten,
    /// Last day to change or cancel online (then by phone).
    pub change_until: String,
    /// Staff never ask for a PIN.
    #[schema(value_type = Text)]
    pub pin_notice: Prewritten,
    /// After certificate procedures: services that pause for a while.
    #[schema(value_type = Vec<Text>)]
    pub afterwards: Prewritten,
    pub links: ReservationLinks,
}

/// JSON written once and copied into every answer as it is.
#[derive(Debug, Clone)]
pub struct Prewritten(Arc<RawValue>);

impl Prewritten {
    fn of<T: Serialize>(value: &T) -> Self {
        // Configuration text and plain structs always serialise; `null` keeps an answer
        // valid JSON should that ever change.
        let raw = serde_json::to_string(value)
            .ok()
            .and_then(|json| RawValue::from_string(json).ok())
            .unwrap_or_else(|| RawValue::NULL.to_owned());
        Prewritten(Arc::from(raw))
    }
}

impl Serialize for Prewritten {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// The parts of a reservation's answer that depend only on its office, its procedure and
/// whether it is a proxy booking, serialised once at start-up: `perf` on a booking run
/// found the 201 answer's serialisation a noticeable share of the server's CPU, most of it
/// these parts.
pub struct ReservationParts {
    offices: HashMap<String, OfficeParts>,
    /// Indexed by `procedure as usize * 2 + proxy`.
    procedures: Vec<ProcedureParts>,
    pin_notice: Prewritten,
}

struct OfficeParts {
    summary: Prewritten,
    /// Days before the slot when online changes end (its `change_until`).
    cancel_days_before: u16,
}

struct ProcedureParts {
    name: Prewritten,
    bring: Prewritten,
    fee: Prewritten,
    afterwards: Prewritten,
}

impl ReservationParts {
    pub fn new(municipality: &Municipality) -> Self {
        ReservationParts {
            offices: municipality
                .offices
                .iter()
                .map(|o| {
                    let id = o.id.to_string();
                    let parts = OfficeParts {
                        summary: Prewritten::of(&office_summary(&id, Some(o))),
                        cancel_days_before: o.booking.cancel_days_before,
                    };
                    (id, parts)
                })
                .collect(),
            procedures: ProcedureId::ALL
                .iter()
                .flat_map(|p| [false, true].map(|proxy| (p.info(), proxy)))
                .map(|(info, proxy)| ProcedureParts {
                    name: Prewritten::of(&info.name),
                    bring: Prewritten::of(&if proxy { info.bring_proxy } else { info.bring }),
                    fee: Prewritten::of(&info.fee),
                    afterwards: Prewritten::of(&info.afterwards),
                })
                .collect(),
            pin_notice: Prewritten::of(&PIN_NOTICE),
        }
    }

    #[allow(
        clippy::as_conversions,
        clippy::indexing_slicing,
        reason = "`procedures` holds two parts for every variant, in the order of `ALL`, \
                  which lists them in declaration order"
    )]
    fn procedure(&self, procedure: ProcedureId, proxy: bool) -> &ProcedureParts {
        &self.procedures[procedure as usize * 2 + usize::from(proxy)]
    }
}

fn office_summary(id: &str, office: Option<&Office>) -> OfficeSummary {
    OfficeSummary {
        id: id.to_owned(),
        name: office
            .map(|o| o.name.clone())
            .unwrap_or_else(|| Text::owned(id.to_owned(), id.to_owned())),
        address: office
            .map(|o| o.address.clone())
            .unwrap_or_else(|| Text::new("", "")),
        phone: office.and_then(|o| o.phone.clone()),
        hours: office.map(weekly_hours).unwrap_or_default(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationLinks {
    #[serde(rename = "self")]
    pub self_: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    pub status: &'static str,
    pub checks: BTreeMap<&'static str, &'static str>,
}

pub fn windows_text(windows: &[TimeWindow]) -> Vec<String> {
    windows.iter().map(ToString::to_string).collect()
}

/// Opening windows per weekday, Monday first; an empty list means closed.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct WeeklyHoursView {
    pub mon: Vec<String>,
    pub tue: Vec<String>,
    pub wed: Vec<String>,
    pub thu: Vec<String>,
    pub fri: Vec<String>,
    pub sat: Vec<String>,
    pub sun: Vec<String>,
}

pub fn weekly_hours(office: &Office) -> WeeklyHoursView {
    let w = &office.calendar.weekly.0;
    WeeklyHoursView {
        mon: windows_text(&w[0]),
        tue: windows_text(&w[1]),
        wed: windows_text(&w[2]),
        thu: windows_text(&w[3]),
        fri: windows_text(&w[4]),
        sat: windows_text(&w[5]),
        sun: windows_text(&w[6]),
    }
}

fn closure_name(rule: &ClosureRule) -> Text {
    match rule.rule {
        DateRule::NationalHolidays => Text::new("国民の祝日・休日", "National holidays"),
        _ => rule.name.clone(),
    }
}

fn policy_view(p: &BookingPolicy) -> BookingPolicyView {
    BookingPolicyView {
        opens_days_ahead: p.opens_days_ahead,
        opens_at: HhMm(p.opens_at).to_string(),
        closes_days_before: p.closes_days_before,
        cancel_days_before: p.cancel_days_before,
        hold_minutes: p.hold_minutes,
    }
}

impl OfficeView {
    pub fn of(office: &Office) -> Self {
        OfficeView {
            id: office.id.to_string(),
            name: office.name.clone(),
            address: office.address.clone(),
            phone: office.phone.clone(),
            counters: u16::try_from(office.counters.len()).unwrap_or(u16::MAX),
            hours: weekly_hours(office),
            holiday_hours: office.calendar.holiday_hours.as_deref().map(windows_text),
            closures: office.calendar.closures.iter().map(closure_name).collect(),
            special_days: office
                .calendar
                .special_days
                .iter()
                .map(|s| SpecialDayView {
                    name: s.name.clone(),
                    hours: windows_text(&s.windows),
                    reservation_only: s.reservation_only,
                })
                .collect(),
            evening_cutoff: office.evening_cutoff.map(|t| HhMm(t).to_string()),
            booking: policy_view(&office.booking),
            procedures: office
                .procedures
                .iter()
                .map(|(id, p)| OfficeProcedureView {
                    id: *id,
                    name: id.info().name.clone(),
                    bookable: p.bookable,
                    capacity: p.capacity,
                    slot_minutes: p.slot_minutes,
                    proxy: p.proxy,
                })
                .collect(),
        }
    }
}

impl ProcedureView {
    pub fn of(id: ProcedureId, municipality: &Municipality) -> Self {
        let info = id.info();
        let offering = municipality
            .offices
            .iter()
            .filter_map(|o| Some((o, o.procedures.get(&id)?)));
        ProcedureView {
            id,
            name: info.name.clone(),
            nominal_minutes: info.nominal_minutes,
            proxy_possible: info.proxy_possible,
            identity: match info.identity {
                IdentityKind::NoticeAndBirthDate => IdentityView::NoticeAndBirthDate,
                IdentityKind::Contact => IdentityView::Contact,
            },
            requires_certificate_expiry: info.needs_certificate_expiry,
            bring: info.bring.to_vec(),
            bring_proxy: info.bring_proxy.to_vec(),
            fee: info.fee.clone(),
            afterwards: info.afterwards.to_vec(),
            offices: offering.clone().map(|(o, _)| o.id.to_string()).collect(),
            bookable_at: offering
                .filter(|(_, p)| p.bookable)
                .map(|(o, _)| o.id.to_string())
                .collect(),
        }
    }
}

impl ReservationView {
    pub fn of(r: &Reservation, secret: Option<String>, parts: &ReservationParts) -> Self {
        let office = parts.offices.get(r.office_id.as_str());
        let cancel_days = office.map(|o| o.cancel_days_before).unwrap_or(0);
        let change_until =
            tokyo_date(r.slot_start) - chrono::Duration::days(i64::from(cancel_days));
        let procedure = parts.procedure(r.procedure, r.proxy);
        ReservationView {
            reference: r.reference.clone(),
            secret,
            status: r.status,
            office_id: r.office_id.to_string(),
            procedure: r.procedure,
            procedure_name: procedure.name.clone(),
            start: to_tokyo_rfc3339(r.slot_start),
            end: to_tokyo_rfc3339(r.slot_end),
            hold_expires_at: r
                .hold_expires_at
                .filter(|_| r.status == ReservationStatus::Held)
                .map(to_tokyo_rfc3339),
            proxy: r.proxy,
            bring: procedure.bring.clone(),
            fee: procedure.fee.clone(),
            office: office
                .map(|o| o.summary.clone())
                // An office no longer configured still gets a summary of its id.
                .unwrap_or_else(|| Prewritten::of(&office_summary(r.office_id.as_str(), None))),
            change_until: change_until.to_string(),
            pin_notice: parts.pin_notice.clone(),
            afterwards: procedure.afterwards.clone(),
            links: ReservationLinks {
                self_: format!("/api/v1/reservations/{}", r.reference),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each pre-written part is the JSON of what it stands for, for every office, every
    /// procedure and both kinds of booking (own, proxy).
    #[test]
    fn prewritten_parts_are_the_json_of_their_values() {
        let municipality = crate::config::municipality::sample_municipality().unwrap();
        let parts = ReservationParts::new(&municipality);
        fn json<T: Serialize + ?Sized>(value: &T) -> Value {
            serde_json::to_value(value).unwrap()
        }
        for office in &municipality.offices {
            let id = office.id.to_string();
            assert_eq!(
                json(&parts.offices[&id].summary),
                json(&office_summary(&id, Some(office))),
                "office {id}"
            );
            assert_eq!(
                parts.offices[&id].cancel_days_before,
                office.booking.cancel_days_before
            );
        }
        for procedure in ProcedureId::ALL {
            let info = procedure.info();
            for proxy in [false, true] {
                let got = parts.procedure(procedure, proxy);
                let bring = if proxy { info.bring_proxy } else { info.bring };
                assert_eq!(json(&got.bring), json(&bring), "{procedure} proxy {proxy}");
                assert_eq!(json(&got.name), json(&info.name), "{procedure}");
                assert_eq!(json(&got.fee), json(&info.fee), "{procedure}");
                assert_eq!(json(&got.afterwards), json(&info.afterwards), "{procedure}");
            }
        }
        assert_eq!(json(&parts.pin_notice), json(&PIN_NOTICE));
    }
}
