//! TEMPORARY interface copy so the engine compiles while the decoder is built
//! on branch wip-fhir; replaced wholesale when that branch merges.
use islet_guideline::{Fact, Instant};

pub struct SiteMapping;
impl SiteMapping {
    pub fn empty() -> Self {
        SiteMapping
    }
    pub fn load(_path: &std::path::Path) -> Result<Self, String> {
        Ok(SiteMapping)
    }
}
pub struct Decoder;
impl Decoder {
    pub fn new(_m: SiteMapping) -> Self {
        Decoder
    }
    pub fn decode(&self, _bytes: &[u8]) -> Decoded {
        Decoded { changes: vec![], rejections: vec![] }
    }
}
#[derive(Debug)]
pub struct Decoded {
    pub changes: Vec<Change>,
    pub rejections: Vec<Rejection>,
}
#[derive(Debug, Clone)]
pub enum Change {
    Upsert(ResourceVersion),
    Delete { resource_type: String, id: String, patient: Option<String>, version_id: Option<String> },
    Skipped { resource_type: String, id: Option<String> },
}
#[derive(Debug, Clone)]
pub struct ResourceVersion {
    pub resource_type: String,
    pub id: String,
    pub patient: String,
    pub version_id: Option<String>,
    pub last_updated: Option<Instant>,
    pub clinical_time: Option<Instant>,
    pub retracted: bool,
    pub facts: Vec<Fact>,
    pub raw: String,
}
impl ResourceVersion {
    pub fn reference(&self) -> String {
        format!("{}/{}", self.resource_type, self.id)
    }
}
#[derive(Debug)]
pub struct Rejection {
    pub entry: Option<usize>,
    pub resource: Option<String>,
    pub reason: RejectReason,
}
#[derive(Debug, thiserror::Error)]
pub enum RejectReason {
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
}
impl RejectReason {
    pub fn code(&self) -> &'static str {
        "invalid-json"
    }
}
