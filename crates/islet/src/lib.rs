//! The `islet` command line. No clinical logic lives here: it parses
//! arguments, opens files and prints.

pub mod cli;
