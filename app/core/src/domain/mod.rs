//! The pure domain: procedures, offices, the calendar, slots, booking rules and resident
//! identity. No I/O and no async here; everything time-dependent takes the time as an
//! argument (or a [`time::Clock`]) so tests and simulations can drive it.

pub mod booking;
pub mod calendar;
pub mod estimate;
pub mod identity;
pub mod ids;
pub mod office;
pub mod procedure;
pub mod queue;
pub mod queue_day;
pub mod reception;
pub mod reference;
pub mod slots;
pub mod text;
pub mod time;
pub mod waiting_room;

pub use ids::OfficeId;
pub use procedure::ProcedureId;
pub use text::Text;
