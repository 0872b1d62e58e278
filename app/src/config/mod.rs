//! Configuration: the service settings (layered: defaults, a settings file, the
//! environment) and the municipality file (offices, hours, closures, procedures).

pub mod municipality;
pub mod settings;

pub use municipality::{
    MunicipalityError, load_municipality, parse_municipality, sample_municipality,
};
pub use settings::Settings;
