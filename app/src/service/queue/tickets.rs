//! Tickets: a walk-in's issue, a reservation's check-in, a ticket's place and estimate,
//! and a resident leaving the line.

use super::{QueueError, QueueService, TicketInfo};
use crate::domain::OfficeId;
use crate::domain::estimate::intake_forecast;
use crate::domain::office::Office;
use crate::domain::procedure::ProcedureId;
use crate::domain::queue::{
    IntakeClosed, ServiceLine, TicketClass, TicketStatus, check_in_class, intake,
};
use crate::domain::reference::ReferenceKey;
use crate::domain::time::{tokyo_date, tokyo_naive};
use crate::service::BookingError;
use crate::store::queue::{IssueRequest, Issued, Ticket, TicketAction, TicketWriteError};
use crate::store::{Reservation, ReservationStatus, new_row_id};
use chrono::NaiveDate;
use uuid::Uuid;

impl QueueService {
    /// Issues a walk-in ticket (a kiosk, or staff at reception for a priority class).
    pub async fn issue_walk_in(
        &self,
        office_id: &OfficeId,
        procedure: ProcedureId,
        priority: bool,
    ) -> Result<TicketInfo, QueueError> {
        let office = self.office(office_id)?;
        let op = office
            .procedures
            .get(&procedure)
            .ok_or(QueueError::ProcedureNotOffered)?;
        let line = office
            .line_of(procedure)
            .ok_or(QueueError::ProcedureNotOffered)?;
        let now = self.clock.now();
        let date = tokyo_date(now);
        let plan = self.municipality.day_plan(office, date);
        if !op.walk_in {
            return Err(QueueError::IntakeClosed(IntakeClosed::NotWalkIn));
        }
        let state = self.office_state(office, date).await?;
        let counts = self.line_counts(office, line, date).await?;
        let reserved_now = self.reserved_now(office, line).await?;
        let estimate = state.line_wait(line, counts.waiting(), reserved_now);
        let forecast = intake_forecast(estimate, state.stats(procedure).mean_minutes);
        intake(&plan, tokyo_naive(now).time(), &office.queue, forecast)
            .map_err(QueueError::IntakeClosed)?;
        let class = if priority {
            TicketClass::Priority
        } else {
            TicketClass::Normal
        };
        let Issued { ticket, before } = self
            .issue(office, line, procedure, class, None, None, "kiosk")
            .await?;
        // The hot state counted the line as the ticket joined: a walk-in enters behind
        // everyone of its class and the classes called before it (the status page reads
        // the live rank later).
        let ahead = match class {
            TicketClass::Priority => before.reserved + before.priority,
            _ => before.waiting(),
        };
        let estimate = state.line_wait(line, ahead, reserved_now);
        Ok(TicketInfo {
            ticket,
            position: Some(ahead + 1),
            ahead: Some(ahead),
            estimate,
            existing: false,
        })
    }

    /// Checks in the booking `reference` names at `office` (reception staff, the kiosk):
    /// the reference alone is enough where the resident stands at the office. A booking
    /// of another office reads as unknown.
    pub async fn check_in_at(
        &self,
        office: &OfficeId,
        reference: &ReferenceKey,
        actor: &str,
    ) -> Result<TicketInfo, QueueError> {
        let reservation = self
            .booking
            .ledger()
            .reservation_by_reference(reference.as_str())
            .await?
            .filter(|r| &r.office_id == office)
            .ok_or(QueueError::Booking(BookingError::NotFound))?;
        self.check_in(&reservation, actor).await
    }

    /// Checks a reservation in on its day: it enters its line as reserved (on time) or
    /// normal (late). A second check-in answers with the same ticket.
    pub async fn check_in(
        &self,
        reservation: &Reservation,
        actor: &str,
    ) -> Result<TicketInfo, QueueError> {
        if reservation.status != ReservationStatus::Confirmed {
            return Err(QueueError::ReservationState(reservation.status));
        }
        if let Some(existing) = self.ledger.ticket_for_reservation(reservation.id).await? {
            return self.existing(existing).await;
        }
        let office = self.office(&reservation.office_id)?;
        let now = self.clock.now();
        let day = tokyo_date(reservation.slot_start);
        if day != tokyo_date(now) {
            return Err(QueueError::CheckInOtherDay(day));
        }
        let class = check_in_class(
            reservation.slot_start,
            reservation.slot_end,
            now,
            &office.queue,
        )
        .map_err(QueueError::CheckIn)?;
        let line = office
            .line_of(reservation.procedure)
            .ok_or(QueueError::ProcedureNotOffered)?;
        let slot =
            (class == TicketClass::Reserved).then(|| reservation.slot_start.timestamp_millis());
        match self
            .issue(
                office,
                line,
                reservation.procedure,
                class,
                Some(reservation.id),
                slot,
                actor,
            )
            .await
        {
            Ok(issued) => self.info(issued.ticket, false).await,
            Err(QueueError::AlreadyCheckedIn) => {
                match self.ledger.ticket_for_reservation(reservation.id).await? {
                    Some(existing) => self.existing(existing).await,
                    None => Err(QueueError::Unavailable("check-in raced; retry".into())),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn existing(&self, ticket: Ticket) -> Result<TicketInfo, QueueError> {
        let live = self
            .live(&ticket.office_id, ticket.service_date, ticket.id)
            .await?
            .unwrap_or(ticket);
        let mut info = self.info(live, false).await?;
        info.existing = true;
        Ok(info)
    }

    /// Issues in the hot state, then makes it durable; repairs the numbering when the
    /// ledger already has a number (the hot state was behind after a rebuild).
    #[expect(
        clippy::too_many_arguments,
        reason = "the parts of a ticket, each needed once"
    )]
    async fn issue(
        &self,
        office: &Office,
        line: &ServiceLine,
        procedure: ProcedureId,
        class: TicketClass,
        reservation_id: Option<Uuid>,
        slot_start_ms: Option<i64>,
        actor: &str,
    ) -> Result<Issued, QueueError> {
        let now = self.clock.now();
        let date = tokyo_date(now);
        // A number taken now could not be kept: refuse before taking one.
        if self.ledger.known_down() {
            return Err(QueueError::Unavailable("the ledger is unreachable".into()));
        }
        // Read before issuing: a call meanwhile makes the counts below stale, not current.
        let generation = self.counter_generation(&office.id);
        for _ in 0..3 {
            let req = IssueRequest {
                ticket_id: new_row_id(),
                office: office.id.clone(),
                line: line.id.clone(),
                prefix: line.prefix.clone(),
                date,
                procedure,
                class,
                reservation_id,
                slot_start_ms,
                now,
                deadline: now + self.deadline,
            };
            let issued = self
                .hot_op(&office.id, date, || self.hot.issue(&req))
                .await?;
            let ticket = &issued.ticket;
            match self.ledger.insert_ticket(ticket, actor).await {
                Ok(()) => {
                    metrics::counter!("madoguchi_tickets_total", "class" => class.as_str())
                        .increment(1);
                    self.remember(ticket);
                    self.counted(office, line, (generation, now), &issued);
                    self.publish(&office.id);
                    return Ok(issued);
                }
                Err(TicketWriteError::NumberTaken) => {
                    metrics::counter!("madoguchi_hot_state_corrections_total").increment(1);
                    tracing::warn!(office = %office.id, line = %line.id, "ledger refused a ticket number; raising the counter");
                    self.forget_quietly(ticket).await;
                    let max = self
                        .ledger
                        .tickets_of_day(&office.id, date)
                        .await?
                        .iter()
                        .filter(|t| crate::domain::queue::issued_by(&t.display, &line.prefix))
                        .map(|t| t.number)
                        .max()
                        .unwrap_or(0);
                    self.hot_op(&office.id, date, || {
                        self.hot.raise_number(&office.id, date, &line.id, max)
                    })
                    .await?;
                }
                Err(TicketWriteError::AlreadyCheckedIn) => {
                    self.forget_quietly(ticket).await;
                    return Err(QueueError::AlreadyCheckedIn);
                }
                Err(TicketWriteError::Store(e)) => {
                    self.forget_quietly(ticket).await;
                    // Nobody should see a number skipped because a write failed.
                    self.give_back_quietly(ticket).await;
                    return Err(e.into());
                }
            }
        }
        Err(QueueError::Unexpected(anyhow::anyhow!(
            "ticket numbering kept colliding at office {}",
            office.id
        )))
    }

    async fn give_back_quietly(&self, t: &Ticket) {
        match self
            .hot
            .give_back_number(&t.office_id, t.service_date, &t.line_id, t.number)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                metrics::counter!("madoguchi_ticket_numbers_skipped_total").increment(1);
                tracing::info!(office = %t.office_id, line = %t.line_id, "a ticket number was skipped: its ticket could not be written and a later one was issued");
            }
            Err(e) => {
                metrics::counter!("madoguchi_ticket_numbers_skipped_total").increment(1);
                tracing::warn!(error = %e, "could not give a ticket number back");
            }
        }
    }

    async fn forget_quietly(&self, t: &Ticket) {
        if let Err(e) = self
            .hot
            .forget_ticket(&t.office_id, t.service_date, t.id)
            .await
        {
            tracing::warn!(error = %e, "could not drop a ticket from the hot state; the reaper will");
        }
    }

    /// The live state of a ticket, from the hot state of its day.
    async fn live(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        id: Uuid,
    ) -> Result<Option<Ticket>, QueueError> {
        if date != self.today() {
            return Ok(None);
        }
        self.hot_op(office, date, || self.hot.ticket(office, date, id))
            .await
    }

    /// A ticket with its place and estimate.
    pub async fn ticket(&self, id: Uuid) -> Result<TicketInfo, QueueError> {
        let known = self
            .locations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned();
        let ticket = match known {
            Some((office, date)) => self.live(&office, date, id).await?,
            None => None,
        };
        let ticket = match ticket {
            Some(t) => t,
            None => {
                let stored = self
                    .ledger
                    .ticket(id)
                    .await?
                    .ok_or(QueueError::TicketNotFound)?;
                self.remember(&stored);
                self.live(&stored.office_id, stored.service_date, id)
                    .await?
                    .unwrap_or(stored)
            }
        };
        self.info(ticket, false).await
    }

    async fn info(&self, ticket: Ticket, existing: bool) -> Result<TicketInfo, QueueError> {
        if ticket.status != TicketStatus::Waiting || ticket.service_date != self.today() {
            return Ok(TicketInfo {
                ticket,
                position: None,
                ahead: None,
                estimate: None,
                existing,
            });
        }
        let office = self.office(&ticket.office_id)?;
        let line = office
            .line(ticket.line_id.as_str())
            .ok_or(QueueError::LineNotFound)?;
        let date = ticket.service_date;
        let state = self.office_state(office, date).await?;
        let summary = self
            .summary(office, line, date, Some((ticket.id, ticket.class)))
            .await?;
        let index = summary.ahead_of(ticket.class).unwrap_or(summary.waiting());
        let reserved_now = self.reserved_now(office, line).await?;
        let estimate = state.line_wait(line, index, reserved_now);
        Ok(TicketInfo {
            ticket,
            position: Some(index + 1),
            ahead: Some(index),
            estimate,
            existing,
        })
    }

    /// The resident leaves the line (the unguessable ticket id is their proof).
    pub async fn cancel_ticket(&self, id: Uuid) -> Result<TicketInfo, QueueError> {
        let info = self.ticket(id).await?;
        let t = info.ticket;
        if t.status == TicketStatus::Cancelled {
            return Ok(TicketInfo {
                ticket: t,
                position: None,
                ahead: None,
                estimate: None,
                existing: true,
            });
        }
        let office = self.office(&t.office_id)?;
        let done = self
            .act_on(office, t.id, TicketAction::Cancel, None, "resident")
            .await?;
        self.info(done, false).await
    }
}
