//! Rule evaluation for one patient record (goal ≤ 20 µs).
//!
//! `cargo bench -p islet-guideline --bench evaluate`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use islet_guideline::calendar::{add_months, start_of};
use islet_guideline::facts::*;
use islet_guideline::{evaluate, Config};
use time::macros::date;

fn fact(n: &mut usize, months: u32, kind: FactKind) -> Fact {
    *n += 1;
    Fact {
        source: SourceRef(format!("Observation/f{n}")),
        at: start_of(add_months(date!(2022 - 01 - 10), months)),
        preliminary: false,
        kind,
    }
}

/// A metastatic G2 patient two years into treatment: ~45 facts, the size of a
/// busy real record.
fn busy_record() -> Vec<Fact> {
    let mut n = 0;
    let mut f = vec![
        fact(&mut n, 0, FactKind::PnetDiagnosis),
        fact(&mut n, 0, FactKind::BirthDate(date!(1961 - 04 - 02))),
        fact(&mut n, 0, FactKind::Ki67(Ki67Percent::new(8.0).unwrap())),
        fact(&mut n, 0, FactKind::Mitoses(MitoticCount::new(3.0).unwrap())),
        fact(&mut n, 0, FactKind::Metastasis(MetastasisSite::Liver)),
        fact(&mut n, 0, FactKind::SstrImaging(SstrImaging::Positive)),
        fact(&mut n, 0, FactKind::KrenningScore(3)),
        fact(&mut n, 0, FactKind::Resectability(Resectability::Unresectable)),
        fact(&mut n, 0, FactKind::LiverResectable(false)),
        fact(&mut n, 0, FactKind::Ecog(1)),
        fact(
            &mut n,
            1,
            FactKind::Therapy(Therapy {
                class: TherapyClass::Ssa,
                tense: Tense::Done,
                escalated: false,
                outcome: None,
                until: None,
            }),
        ),
        fact(
            &mut n,
            9,
            FactKind::Therapy(Therapy {
                class: TherapyClass::Chemotherapy,
                tense: Tense::Done,
                escalated: false,
                outcome: None,
                until: None,
            }),
        ),
        fact(
            &mut n,
            18,
            FactKind::Therapy(Therapy {
                class: TherapyClass::Everolimus,
                tense: Tense::Running,
                escalated: false,
                outcome: None,
                until: None,
            }),
        ),
        fact(
            &mut n,
            20,
            FactKind::Therapy(Therapy {
                class: TherapyClass::Tace,
                tense: Tense::Planned,
                escalated: false,
                outcome: None,
                until: None,
            }),
        ),
    ];
    for m in (0..24).step_by(3) {
        f.push(fact(
            &mut n,
            m,
            FactKind::TumourSize { site: TumourSite::Primary, largest: Millimetres::new(30.0 + m as f64).unwrap() },
        ));
        f.push(fact(
            &mut n,
            m,
            FactKind::TumourSize { site: TumourSite::Liver, largest: Millimetres::new(20.0 + m as f64).unwrap() },
        ));
        f.push(fact(
            &mut n,
            m,
            FactKind::ChromograninA { value: CgaValue::NgPerMl(Concentration::new(150.0).unwrap()), upper_limit: None },
        ));
        f.push(fact(&mut n, m, FactKind::LiverInvolvement(LiverInvolvementPercent::new(20.0 + m as f64).unwrap())));
        let status = if m == 6 || m == 15 { DiseaseStatus::Worsened } else { DiseaseStatus::Stable };
        f.push(fact(&mut n, m, FactKind::DiseaseStatus(status)));
    }
    f
}

fn bench(c: &mut Criterion) {
    let config = Config::default();
    let facts = busy_record();
    let now = start_of(date!(2024 - 02 - 01));
    let alerts = evaluate(&facts, now, &config).alerts.len();
    assert!(alerts > 3, "the benchmark record should raise several alerts, got {alerts}");
    c.bench_function(&format!("evaluate busy record ({} facts, {alerts} alerts)", facts.len()), |b| {
        b.iter(|| evaluate(black_box(&facts), black_box(now), &config))
    });
    let mut n = 0;
    let small = vec![
        fact(&mut n, 0, FactKind::PnetDiagnosis),
        fact(&mut n, 0, FactKind::TumourSize { site: TumourSite::Primary, largest: Millimetres::new(14.0).unwrap() }),
        fact(&mut n, 0, FactKind::Ki67(Ki67Percent::new(1.0).unwrap())),
    ];
    c.bench_function("evaluate small surveillance record (3 facts)", |b| {
        b.iter(|| evaluate(black_box(&small), black_box(now), &config))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
