//! The number conversions the standard library has no `From` for, in one place each with
//! why it is safe, so that the rest of the crate has no `as` (`clippy::as_conversions`).
#![allow(
    clippy::as_conversions,
    reason = "this module is where the crate's unavoidable casts live"
)]

/// A count as a float, for metrics and averages: exact below 2^53, far above any count
/// the service keeps.
pub fn f64_of(n: usize) -> f64 {
    n as f64
}

/// Milliseconds (of a service, a wait) as a float: exact below 2^53 ms, 285,000 years.
pub fn f64_of_millis(ms: i64) -> f64 {
    ms as f64
}

/// A float rounded to the nearest whole number; negative values and NaN give 0, values
/// past the range its maximum (an `as` cast saturates).
pub fn u32_rounded(x: f64) -> u32 {
    x.round() as u32
}

/// A whole float (checked by the caller) as an unsigned integer, saturating.
pub fn u64_of_whole(x: f64) -> u64 {
    x as u64
}

/// A whole float (a Redis score holding milliseconds) as an integer, saturating.
pub fn i64_of_whole(x: f64) -> i64 {
    x as i64
}

/// A size as a u64 (lengths framed into hashes, metrics counters): lossless on every
/// target with pointers of at most 64 bits.
pub fn u64_of(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A value as a PostgreSQL `integer`, saturating (ticket numbers, counts and minutes are
/// far below its maximum).
pub fn i32_of<T: TryInto<i32>>(n: T) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// A stored `integer` as a count: negative values (never written) read as 0.
pub fn u32_of(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}
