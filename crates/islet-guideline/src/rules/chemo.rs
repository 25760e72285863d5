//! TODO(family): placeholder until the family lands in this session.
use super::Finding;
use crate::alert::RuleSpec;
use crate::derived::Picture;

pub const RULES: &[&RuleSpec] = &[];

pub fn evaluate(_p: &Picture, _out: &mut Vec<Finding>) {}
