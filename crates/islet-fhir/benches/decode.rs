//! Decode cost per message, and where it goes.
//!
//! `cargo bench -p islet-fhir --bench decode`
//!
//! Besides the full decode of typical messages, `parts/*` measure the floor
//! (serde_json skipping the whole message without building anything) and a
//! full `serde_json::Value` parse, for comparison.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use islet_fhir::{Decoder, SiteMapping};

/// A Ki-67 result as a pathology system sends it (about 1 KB).
const OBSERVATION: &str = r#"{"resourceType":"Observation","id":"ki67-1","meta":{"versionId":"3","lastUpdated":"2024-01-12T08:30:00Z","profile":["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker-test"]},"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory","display":"Laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"29593-1","display":"Ki-67 [Presence] in Tissue by Immune stain"}],"text":"Ki-67 index"},"subject":{"reference":"Patient/p-123","display":"Jane Doe"},"effectiveDateTime":"2024-01-10T09:00:00+01:00","issued":"2024-01-11T10:00:00Z","performer":[{"reference":"Practitioner/path-7"}],"valueQuantity":{"value":4.5,"unit":"%","system":"http://unitsofmeasure.org","code":"%"},"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"H"}]}],"note":[{"text":"Hot-spot count, 2000 cells"}],"specimen":{"reference":"Specimen/s-9"}}"#;

/// A pNET diagnosis (mCODE primary cancer condition style).
const CONDITION: &str = r#"{"resourceType":"Condition","id":"pnet-1","meta":{"versionId":"1","lastUpdated":"2023-11-06T12:00:00Z"},"extension":[{"url":"http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior","valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"128627000","display":"Carcinoid tumor"}]}}],"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]},"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-category","code":"problem-list-item"}]}],"code":{"coding":[{"system":"http://snomed.info/sct","code":"735735001","display":"Pancreatic neuroendocrine tumor"},{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C25.4"}]},"bodySite":[{"coding":[{"system":"http://snomed.info/sct","code":"15776009","display":"Pancreas"}]}],"subject":{"reference":"Patient/p-123"},"onsetDateTime":"2023-11-05","recordedDate":"2023-11-06","asserter":{"reference":"Practitioner/onc-1"}}"#;

/// A running octreotide LAR every 28 days.
const MEDICATION_STATEMENT: &str = r#"{"resourceType":"MedicationStatement","id":"ssa-1","meta":{"versionId":"4","lastUpdated":"2024-03-02T09:00:00Z"},"status":"active","medicationCodeableConcept":{"coding":[{"system":"http://www.whocc.no/atc","code":"H01CB02","display":"octreotide"}],"text":"Octreotide LAR 30 mg"},"subject":{"reference":"Patient/p-123"},"effectivePeriod":{"start":"2024-03-01"},"dateAsserted":"2024-03-01","dosage":[{"text":"30 mg i.m. every 28 days","timing":{"repeat":{"frequency":1,"period":28,"periodUnit":"d"}},"route":{"coding":[{"system":"http://snomed.info/sct","code":"78421000","display":"Intramuscular route"}]},"doseAndRate":[{"doseQuantity":{"value":30,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}}]}]}"#;

fn envelope(resource: &str) -> String {
    serde_json::json!({
        "headers": {"retryCount": 0},
        "payload": {
            "operationType": "UPDATE",
            "payloadId": "Observation/ki67-1/_history/3",
            "payload": resource,
            "mediaType": "application/fhir+json",
        }
    })
    .to_string()
}

fn bundle() -> String {
    let entries: Vec<serde_json::Value> = [OBSERVATION, CONDITION, MEDICATION_STATEMENT]
        .iter()
        .map(|r| serde_json::json!({"resource": serde_json::from_str::<serde_json::Value>(r).unwrap()}))
        .collect();
    serde_json::json!({"resourceType": "Bundle", "type": "collection", "entry": entries}).to_string()
}

/// The same messages parsed into fhir-sdk's typed R4B model, the decoder's
/// alternative (`cargo bench -p islet-fhir --features fhir-sdk-baseline --bench decode`).
#[cfg(feature = "fhir-sdk-baseline")]
fn fhir_sdk_baseline(c: &mut Criterion) {
    use fhir_sdk::r4b::resources::Resource;
    let mut g = c.benchmark_group("fhir_sdk_typed_parse");
    for (name, msg) in
        [("observation", OBSERVATION), ("condition", CONDITION), ("medication_statement", MEDICATION_STATEMENT)]
    {
        assert!(serde_json::from_str::<Resource>(msg).is_ok(), "{name} parses with fhir-sdk");
        g.throughput(Throughput::Elements(1));
        g.bench_function(name, |b| b.iter(|| serde_json::from_str::<Resource>(black_box(msg))));
    }
    g.finish();
}

#[cfg(not(feature = "fhir-sdk-baseline"))]
fn fhir_sdk_baseline(_: &mut Criterion) {}

fn bench(c: &mut Criterion) {
    fhir_sdk_baseline(c);
    let decoder = Decoder::new(SiteMapping::empty());
    // Sanity: every fixture decodes to facts.
    for m in [OBSERVATION, CONDITION, MEDICATION_STATEMENT] {
        let d = decoder.decode(m.as_bytes());
        assert!(d.rejections.is_empty(), "{:?}", d.rejections);
    }
    let env = envelope(OBSERVATION);
    let bun = bundle();
    let mut g = c.benchmark_group("decode");
    for (name, msg) in [
        ("observation", OBSERVATION),
        ("condition", CONDITION),
        ("medication_statement", MEDICATION_STATEMENT),
        ("envelope_observation", env.as_str()),
        ("bundle_3", bun.as_str()),
    ] {
        g.throughput(Throughput::Elements(1));
        g.bench_function(name, |b| b.iter(|| decoder.decode(black_box(msg.as_bytes()))));
    }
    g.finish();
    let mut g = c.benchmark_group("parts");
    g.bench_function("observation_skip_only", |b| {
        b.iter(|| serde_json::from_str::<serde::de::IgnoredAny>(black_box(OBSERVATION)).unwrap())
    });
    g.bench_function("observation_serde_json_value", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(OBSERVATION)).unwrap())
    });
    // Part of every decode: the canonical content hash (contract v2 identity).
    g.bench_function("observation_content_hash", |b| {
        b.iter(|| islet_fhir::canonical::content_sha256(black_box(OBSERVATION)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
