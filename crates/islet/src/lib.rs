//! The `islet` command line, its settings, and the application drivers that
//! move messages from files (and, next, Kafka and HTTP) through the engine.
//! No clinical logic lives here.

pub mod cli;
pub mod drivers;
pub mod output;
pub mod serve;
pub mod settings;
