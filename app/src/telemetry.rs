//! Structured logs via `tracing`: JSON lines by default. The filter comes from `RUST_LOG`
//! (default `info`). Personal data is never logged: request logs carry route patterns,
//! not paths, and the types that hold resident data print as `..` in Debug.

use crate::config::settings::LogFormat;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Registry};

/// A subscriber writing to `writer` (stdout in production, a sink in tests).
pub fn subscriber<W>(
    default_filter: &str,
    format: LogFormat,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = Registry::default().with(filter);
    match format {
        LogFormat::Json => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(writer),
            ),
        ),
        LogFormat::Pretty => {
            Box::new(registry.with(tracing_subscriber::fmt::layer().with_writer(writer)))
        }
    }
}

/// Installs the global subscriber; a second call is ignored (tests start many apps).
pub fn init(format: LogFormat) {
    let _ = tracing::subscriber::set_global_default(subscriber(
        "info,sqlx=warn",
        format,
        std::io::stdout,
    ));
}
