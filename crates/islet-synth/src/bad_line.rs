//! Bad-line injection: a line replaced by one the decoder must reject.

use crate::coding::{cc, coding, ucum, LOINC, UCUM};
use crate::json::j;
use crate::messages::Line;
use crate::{CohortOptions, SPAN_DAYS};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use time::Duration;

/// Replace a line by an unusable one, for tests and demos.
pub(crate) fn bad_line(rng: &mut ChaCha8Rng, opts: &CohortOptions, line: Line) -> Line {
    let day = opts.start + Duration::days(rng.gen_range(0..SPAN_DAYS));
    let n: u32 = rng.gen();
    let id = format!("bad-{n:08x}");
    let kind = rng.gen_range(0..3);
    let cut_short = kind == 0 && line.text.len() > 10;
    let text = match kind {
        0 if cut_short => {
            // Broken JSON: the line cut short (never a complete object).
            let mut cut = rng.gen_range(1..line.text.len() - 1);
            while !line.text.is_char_boundary(cut) {
                cut -= 1;
            }
            line.text[..cut].to_string()
        }
        1 => j!({
            "resourceType": "Observation",
            "id": id,
            "meta": { "versionId": "1", "lastUpdated": format!("{day}T12:00:00Z") },
            "status": "final",
            "code": cc(vec![coding(LOINC, "29593-1")], "Ki-67 proliferation index"),
            "effectiveDateTime": format!("{day}T09:00:00Z"),
            "valueQuantity": (ucum(5.0, "%", "%")),
        })
        .to_json(),
        _ => j!({
            "resourceType": "Observation",
            "id": id,
            "meta": { "versionId": "1", "lastUpdated": format!("{day}T12:00:00Z") },
            "status": "final",
            "code": cc(vec![coding(LOINC, "33728-7")], "Tumour size, greatest dimension"),
            "subject": { "reference": (&line.patient) },
            "effectiveDateTime": format!("{day}T09:00:00Z"),
            "valueQuantity": { "value": "14 mm", "unit": "mm", "system": UCUM, "code": "mm" },
        })
        .to_json(),
    };
    // A cut line carries no resource.
    let resources = usize::from(!cut_short);
    Line { text, resources, patient: line.patient, refers: Vec::new() }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{cohort, patient_ref, resources};
    use serde_json::Value;

    fn is_bad(line: &str) -> bool {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            return true;
        };
        resources(&msg).into_iter().flatten().any(|r| {
            r["resourceType"] == "Observation" && (patient_ref(&r).is_none() || r["valueQuantity"]["value"].is_string())
        })
    }

    #[test]
    fn bad_line_rate_is_roughly_honoured() {
        let (clean, clean_stats) = cohort(1000, 6, 0.0);
        assert!(!clean.lines().any(is_bad));
        let (text, stats) = cohort(1000, 6, 0.05);
        // The same cohort, some lines replaced.
        assert_eq!(stats.lines, clean_stats.lines);
        let bad = text.lines().filter(|l| is_bad(l)).count();
        let changed = text.lines().zip(clean.lines()).filter(|(a, b)| a != b).count();
        assert_eq!(bad, changed);
        let rate = bad as f64 / stats.lines as f64;
        assert!((0.04..=0.06).contains(&rate), "bad-line rate {rate}");
        let (all_bad, s) = cohort(20, 6, 1.0);
        assert_eq!(all_bad.lines().filter(|l| is_bad(l)).count(), s.lines);
    }
}
