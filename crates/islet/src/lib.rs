//! The `islet` command line and the synthetic cohort generator. No clinical
//! logic lives here: it parses arguments, opens files and prints.

pub mod cli;
pub mod generate;
