pub fn probe(s: &str) -> bool {
    serde_json::from_str::<fhir_sdk::r4b::resources::Resource>(s).is_ok()
}
