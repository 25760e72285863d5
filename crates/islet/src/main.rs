//! Development entry point for the cohort generator; the lead replaces this
//! file with the real CLI (`islet generate --patients N --seed S [--start DATE]`).
mod generate;

use std::io::{self, BufWriter};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = generate::CohortOptions::default();
    if let Some(n) = args.first() {
        opts.patients = n.parse().expect("patients: a number");
    }
    if let Some(s) = args.get(1) {
        opts.seed = s.parse().expect("seed: a number");
    }
    if let Some(d) = args.get(2) {
        let f = time::macros::format_description!("[year]-[month]-[day]");
        opts.start = time::Date::parse(d, &f).expect("start: YYYY-MM-DD");
    }
    if let Some(r) = args.get(3) {
        opts.bad_line_rate = r.parse().expect("bad line rate: a number");
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let stats = generate::generate(&opts, &mut out).expect("write cohort");
    eprintln!(
        "patients {} lines {} resources {}",
        stats.patients, stats.lines, stats.resources
    );
}
