//! The generator through its public API, as `islet generate` and the tests of
//! other crates use it: the same options give the same bytes, and a cohort
//! without bad lines is JSON on every line.

use islet_synth::{generate, CohortOptions, GenerateStats};
use serde_json::Value;
use time::macros::date;

fn write(opts: &CohortOptions) -> (Vec<u8>, GenerateStats) {
    let mut out = Vec::new();
    let stats = generate(opts, &mut out).expect("in-memory write");
    (out, stats)
}

#[test]
fn same_options_give_the_same_bytes_and_another_seed_does_not() {
    let with_bad_lines = CohortOptions { patients: 80, seed: 7, start: date!(2021 - 03 - 15), bad_line_rate: 0.05 };
    for opts in [CohortOptions { patients: 80, seed: 7, ..CohortOptions::default() }, with_bad_lines] {
        let (first, first_stats) = write(&opts);
        let (again, again_stats) = write(&opts);
        assert!(first == again, "seed {} gave two different cohorts", opts.seed);
        assert_eq!(first_stats, again_stats);
        let (other, _) = write(&CohortOptions { seed: opts.seed + 1, ..opts.clone() });
        assert!(first != other, "seeds {} and {} gave the same cohort", opts.seed, opts.seed + 1);
    }
    let (nothing, stats) = write(&CohortOptions { patients: 0, ..CohortOptions::default() });
    assert!(nothing.is_empty());
    assert_eq!(stats, GenerateStats::default());
}

#[test]
fn every_line_is_json_when_no_bad_lines_are_asked_for() {
    for (seed, start) in [(1, date!(2022 - 01 - 01)), (2, date!(2021 - 03 - 15)), (3, date!(2030 - 12 - 31))] {
        let opts = CohortOptions { patients: 150, seed, start, bad_line_rate: 0.0 };
        let (out, stats) = write(&opts);
        let text = String::from_utf8(out).expect("UTF-8");
        assert!(text.ends_with('\n'), "seed {seed}: the last line is not terminated");
        assert_eq!(text.lines().count(), stats.lines, "seed {seed}");
        for (n, line) in text.lines().enumerate() {
            let message: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("seed {seed}, line {}: {e}", n + 1));
            // An envelope carries its resource as JSON text: that must parse too.
            if let Some(payload) = message.get("payload") {
                let payload = payload.as_str().unwrap_or_else(|| panic!("seed {seed}, line {}: payload", n + 1));
                serde_json::from_str::<Value>(payload)
                    .unwrap_or_else(|e| panic!("seed {seed}, line {}: payload: {e}", n + 1));
            }
        }
    }
}
