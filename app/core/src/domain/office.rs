//! Offices and the municipality: what each office offers, when, and with what capacity.

use crate::domain::booking::BookingPolicy;
use crate::domain::calendar::{ClosureRule, DayPlan, OfficeCalendar};
use crate::domain::ids::OfficeId;
use crate::domain::procedure::ProcedureId;
use crate::domain::queue::{Counter, CounterId, LineId, QueuePolicy, ServiceLine};
use crate::domain::slots::{SlotTime, day_slots};
use crate::domain::text::Text;
use chrono::{NaiveDate, NaiveTime};
use std::collections::BTreeMap;

/// How one office handles one procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeProcedure {
    /// Whether residents can book it online; if not, it is walk-in only here.
    pub bookable: bool,
    /// Reservable counters for this procedure: the seats of each slot.
    pub capacity: u16,
    pub slot_minutes: u16,
    /// Whether this office accepts a representative (代理人) for it.
    pub proxy: bool,
    /// Whether walk-ins can take a ticket for it (else reservation only).
    pub walk_in: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Office {
    pub id: OfficeId,
    pub name: Text,
    pub address: Text,
    pub phone: Option<String>,
    /// Counters at the office (walk-in and reserved together) and the lines each serves.
    pub counters: Vec<Counter>,
    /// Service lines: which procedures share a queue, and their ticket prefix.
    pub lines: Vec<ServiceLine>,
    pub queue: QueuePolicy,
    pub calendar: OfficeCalendar,
    /// National systems are reachable only until about 20:00, so evening slots end by this.
    pub evening_cutoff: Option<NaiveTime>,
    pub procedures: BTreeMap<ProcedureId, OfficeProcedure>,
    pub booking: BookingPolicy,
}

impl Office {
    /// The line a procedure queues in.
    pub fn line_of(&self, procedure: ProcedureId) -> Option<&ServiceLine> {
        self.lines
            .iter()
            .find(|l| l.procedures.contains(&procedure))
    }

    pub fn line(&self, id: &str) -> Option<&ServiceLine> {
        self.lines.iter().find(|l| l.id.as_str() == id)
    }

    pub fn counter(&self, id: &str) -> Option<&Counter> {
        self.counters.iter().find(|c| c.id.as_str() == id)
    }

    /// The counters that call from a line.
    pub fn counters_of(&self, line: &LineId) -> impl Iterator<Item = &CounterId> {
        self.counters
            .iter()
            .filter(move |c| c.lines.contains(line))
            .map(|c| &c.id)
    }
}

/// The configured municipality: its offices and the days the national system is down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Municipality {
    pub name: Text,
    pub offices: Vec<Office>,
    /// Days when no card procedure can be done anywhere (national maintenance).
    pub system_down: Vec<ClosureRule>,
    /// Waiting rooms in front of booking releases.
    pub waiting_rooms: Vec<crate::domain::waiting_room::WaitingRoom>,
}

impl Municipality {
    pub fn office(&self, id: &str) -> Option<&Office> {
        self.offices.iter().find(|o| o.id.as_str() == id)
    }

    pub fn day_plan(&self, office: &Office, date: NaiveDate) -> DayPlan {
        office.calendar.plan(date, &self.system_down)
    }

    /// The slots of `procedure` at `office` on `date` (empty when closed or not offered).
    pub fn slots(&self, office: &Office, procedure: ProcedureId, date: NaiveDate) -> Vec<SlotTime> {
        let Some(op) = office.procedures.get(&procedure) else {
            return Vec::new();
        };
        match self.day_plan(office, date) {
            DayPlan::Open(day) => day_slots(&day.windows, op.slot_minutes, office.evening_cutoff),
            DayPlan::Closed(_) => Vec::new(),
        }
    }

    /// The largest booking horizon of any office, in days: how far ahead hot state is kept.
    pub fn max_days_ahead(&self) -> u16 {
        self.offices
            .iter()
            .map(|o| o.booking.opens_days_ahead)
            .max()
            .unwrap_or(0)
    }
}
