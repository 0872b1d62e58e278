//! What staff do at a counter (call the next resident, act on the ticket there, pause),
//! each written to the ledger with its audit event, and the audit trail.

use super::{QueueError, QueueService};
use crate::domain::OfficeId;
use crate::domain::office::Office;
use crate::domain::queue::{CounterId, LineId};
use crate::domain::time::{from_tokyo, tokyo_date};
use crate::service::staff::StaffPrincipal;
use crate::store::queue::{
    ActOutcome, ActRequest, CallOutcome, CallRequest, QueueEvent, Ticket, TicketAction,
};
use chrono::{Duration, NaiveDate};
use uuid::Uuid;

impl QueueService {
    fn counter<'a>(
        &self,
        office: &'a Office,
        id: &str,
    ) -> Result<&'a crate::domain::queue::Counter, QueueError> {
        office.counter(id).ok_or(QueueError::CounterNotFound)
    }

    fn authorise(&self, staff: &StaffPrincipal, office: &OfficeId) -> Result<(), QueueError> {
        if staff.may_act_for(office) {
            Ok(())
        } else {
            Err(QueueError::Forbidden)
        }
    }

    /// Calls the next resident to a counter; `None` when nobody waits.
    pub async fn call_next(
        &self,
        staff: &StaffPrincipal,
        office_id: &OfficeId,
        counter_id: &str,
    ) -> Result<Option<Ticket>, QueueError> {
        self.authorise(staff, office_id)?;
        let office = self.office(office_id)?;
        let counter = self.counter(office, counter_id)?;
        let now = self.clock.now();
        let date = tokyo_date(now);
        let req = CallRequest {
            office: office_id,
            date,
            counter: &counter.id,
            lines: &counter.lines,
            policy: &office.queue,
            now,
        };
        match self
            .hot_op(office_id, date, || self.hot.call_next(&req))
            .await?
        {
            CallOutcome::Called(t) => {
                self.record(&t, "called", &staff.actor(), None).await?;
                metrics::counter!("madoguchi_calls_total").increment(1);
                Ok(Some(t))
            }
            CallOutcome::Empty => Ok(None),
            CallOutcome::Busy(t) => Err(QueueError::CounterBusy(Box::new(t))),
            CallOutcome::Paused => Err(QueueError::CounterPaused),
        }
    }

    /// Applies a staff action to the ticket at the counter.
    pub async fn counter_action(
        &self,
        staff: &StaffPrincipal,
        office_id: &OfficeId,
        counter_id: &str,
        action: TicketAction,
    ) -> Result<Ticket, QueueError> {
        self.authorise(staff, office_id)?;
        let office = self.office(office_id)?;
        let counter = self.counter(office, counter_id)?;
        if let TicketAction::Transfer { to, .. } = &action
            && office.line(to.as_str()).is_none()
        {
            return Err(QueueError::LineNotFound);
        }
        let view = self.view(office).await?;
        let current = view
            .counters
            .iter()
            .find(|c| c.id == counter.id)
            .and_then(|c| c.current.clone())
            .ok_or(QueueError::CounterIdle)?;
        self.act_on(
            office,
            current.id,
            action,
            Some(&counter.id),
            &staff.actor(),
        )
        .await
    }

    pub(super) async fn act_on(
        &self,
        office: &Office,
        id: Uuid,
        action: TicketAction,
        counter: Option<&CounterId>,
        actor: &str,
    ) -> Result<Ticket, QueueError> {
        let now = self.clock.now();
        let date = tokyo_date(now);
        let all_lines: Vec<LineId> = office.lines.iter().map(|l| l.id.clone()).collect();
        let req = ActRequest {
            office: &office.id,
            date,
            ticket: id,
            action: &action,
            counter,
            all_lines: &all_lines,
            now,
        };
        match self.hot_op(&office.id, date, || self.hot.act(&req)).await? {
            ActOutcome::Done(t) => {
                let detail = match &action {
                    TicketAction::Transfer { to, keep_place } => {
                        Some(serde_json::json!({ "to": to.as_str(), "keep_place": keep_place }))
                    }
                    _ => None,
                };
                self.record(&t, action.kind(), actor, detail).await?;
                Ok(t)
            }
            ActOutcome::NotAllowed(t) => Err(QueueError::ActionNotAllowed(t.status)),
            ActOutcome::NotFound => Err(QueueError::TicketNotFound),
        }
    }

    /// Writes a ticket's new state and its audit event, then tells displays.
    async fn record(
        &self,
        t: &Ticket,
        kind: &'static str,
        actor: &str,
        detail: Option<serde_json::Value>,
    ) -> Result<(), QueueError> {
        let event = QueueEvent {
            office: t.office_id.clone(),
            ticket: Some(t.id),
            counter: t.counter_id.clone(),
            kind,
            actor: actor.to_owned(),
            at: self.clock.now(),
            detail,
        };
        self.ledger.update_ticket(t, &event).await?;
        self.counters_changed(&t.office_id);
        self.publish(&t.office_id);
        Ok(())
    }

    pub async fn set_paused(
        &self,
        staff: &StaffPrincipal,
        office_id: &OfficeId,
        counter_id: &str,
        paused: bool,
    ) -> Result<(), QueueError> {
        self.authorise(staff, office_id)?;
        let office = self.office(office_id)?;
        let counter = self.counter(office, counter_id)?;
        let date = self.today();
        self.hot_op(office_id, date, || {
            self.hot.set_paused(office_id, date, &counter.id, paused)
        })
        .await?;
        let event = QueueEvent {
            office: office_id.clone(),
            ticket: None,
            counter: Some(counter.id.clone()),
            kind: if paused { "paused" } else { "resumed" },
            actor: staff.actor(),
            at: self.clock.now(),
            detail: None,
        };
        self.ledger.set_counter_paused(paused, &event).await?;
        self.counters_changed(office_id);
        self.publish(office_id);
        Ok(())
    }

    /// Staff's events on the office's bookings that day (a phone booking, openings,
    /// moves, cancellations), as the sealed chain holds them (administrators only).
    pub async fn booking_audit(
        &self,
        staff: &StaffPrincipal,
        office_id: &OfficeId,
        date: NaiveDate,
    ) -> Result<Vec<crate::store::queue::AuditRecord>, QueueError> {
        self.authorise(staff, office_id)?;
        if staff.role != crate::store::queue::StaffRole::Admin {
            return Err(QueueError::Forbidden);
        }
        self.office(office_id)?;
        let from = from_tokyo(date, chrono::NaiveTime::MIN);
        let records = self
            .ledger
            .audit_records(office_id, from, from + Duration::days(1))
            .await?;
        Ok(records
            .into_iter()
            .filter(|r| r.source == "reservation")
            .collect())
    }

    /// The audit trail of an office for one Tokyo day (administrators only).
    pub async fn audit(
        &self,
        staff: &StaffPrincipal,
        office_id: &OfficeId,
        date: NaiveDate,
    ) -> Result<Vec<crate::store::queue::AuditEntry>, QueueError> {
        self.authorise(staff, office_id)?;
        if staff.role != crate::store::queue::StaffRole::Admin {
            return Err(QueueError::Forbidden);
        }
        self.office(office_id)?;
        let from = from_tokyo(date, chrono::NaiveTime::MIN);
        Ok(self
            .ledger
            .queue_events(office_id, from, from + Duration::days(1))
            .await?)
    }
}
