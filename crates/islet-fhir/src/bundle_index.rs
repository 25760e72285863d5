//! The entries of one Bundle, read once and indexed for resolving references
//! between them (`urn:uuid:` full URLs and `Type/id`).

use crate::json::{parse_object, Entry, Obj};
use crate::reject::RejectReason;
use crate::types::type_and_id_suffix;
use std::borrow::Cow;
use std::collections::HashMap;

pub(crate) struct BundleIndex<'a> {
    /// Each entry's resource, when it has one that is a JSON object.
    objs: Vec<Option<Obj<'a>>>,
    /// `fullUrl` and `Type/id` → entry index.
    by_url: HashMap<Cow<'a, str>, usize>,
}

impl<'a> BundleIndex<'a> {
    /// Read every entry's resource once; also returns, per entry, why its
    /// resource could not be read.
    pub(crate) fn read(entries: &[Entry<'a>]) -> (BundleIndex<'a>, Vec<Option<RejectReason>>) {
        let mut objs = Vec::with_capacity(entries.len());
        let mut parse_errors = Vec::with_capacity(entries.len());
        let mut by_url = HashMap::with_capacity(entries.len() * 2);
        for (i, e) in entries.iter().enumerate() {
            let obj = match e.resource.map(|r| parse_object(r.get())) {
                Some(Ok(o)) => {
                    if let (Some(rt), Some(id)) = (&o.resource_type, o.id()) {
                        by_url.entry(Cow::Owned(format!("{}/{}", &**rt, &*id))).or_insert(i);
                    }
                    parse_errors.push(None);
                    Some(o)
                }
                Some(Err(r)) => {
                    parse_errors.push(Some(r));
                    None
                }
                None => {
                    parse_errors.push(None);
                    None
                }
            };
            if let Some(url) = &e.full_url {
                by_url.entry(url.0.clone()).or_insert(i);
            }
            objs.push(obj);
        }
        (BundleIndex { objs, by_url }, parse_errors)
    }

    /// The resource of entry `i`, when it could be read.
    pub(crate) fn entry(&self, i: usize) -> Option<&Obj<'a>> {
        self.objs.get(i)?.as_ref()
    }

    /// The entry a reference points at: by `fullUrl`, or by `Type/id`.
    pub(crate) fn resolve(&self, reference: &str) -> Option<&Obj<'a>> {
        let i = match self.by_url.get(reference) {
            Some(i) => *i,
            None => *self.by_url.get(type_and_id_suffix(reference)?)?,
        };
        self.objs[i].as_ref()
    }
}
