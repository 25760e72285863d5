//! Facts that rest on a resource sent in another message (contract.md v2,
//! "References across messages").
//!
//! A MedicationStatement / MedicationRequest whose drug is a
//! `medicationReference` to a Medication not in the same message, and a
//! tumour size whose site is a `focus` BodyStructure not in the same
//! message, cannot become facts when they are decoded: the decoder emits a
//! [`PendingFact`] naming what it needs. The Medication or BodyStructure,
//! whenever it arrives (before or after), is decoded into a [`Definition`].
//! The engine keeps both and resolves pending facts when it evaluates
//! ([`PendingFact::resolve`]); until the definition is there, the therapy is
//! an unknown medication and the size has an unknown site — neither is used,
//! and neither is a rejection. A focus that cannot be resolved never
//! defaults to the pancreas.

use islet_guideline::facts::{Millimetres, Tense, Therapy, TherapyClass, TumourSite};
use islet_guideline::{Fact, FactKind, Instant, SourceRef};
use serde::{Deserialize, Serialize};

/// A fact waiting for the resource it names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingFact {
    /// The resource that says it (`MedicationStatement/x`).
    pub source: SourceRef,
    pub at: Instant,
    pub preliminary: bool,
    /// The resource it needs: `Medication/m1` or `BodyStructure/b1`.
    pub needs: String,
    pub kind: PendingKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PendingKind {
    /// A therapy whose drug is the Medication named by `needs`.
    Therapy {
        tense: Tense,
        /// Escalated dosing read from the statement itself (interval ≤ 21 days).
        escalated: bool,
        /// The end of the recorded period, when given.
        until: Option<Instant>,
    },
    /// A tumour size whose site is the BodyStructure named by `needs`.
    TumourSize { largest: Millimetres },
}

/// What a Medication or a BodyStructure says, for the facts that point to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Definition {
    /// `class`: the therapy its code names; `None` when it is not a drug Islet
    /// uses (a pending therapy then stays unused). `escalated`: the code
    /// itself says high-dose SSA (islet `ssa-escalated`).
    Medication { class: Option<TherapyClass>, escalated: bool },
    /// `site`: pancreas (any part) = the primary, liver; `None` for any other site.
    BodyStructure { site: Option<TumourSite> },
}

impl PendingFact {
    /// The fact this becomes with `definition` (the resource named by
    /// `needs`), or `None` when the definition says it is not one Islet uses.
    pub fn resolve(&self, definition: &Definition) -> Option<Fact> {
        let kind = match (&self.kind, definition) {
            (PendingKind::Therapy { tense, escalated, until }, Definition::Medication { class, escalated: e }) => {
                let class = (*class)?;
                let escalated = (*escalated || *e) && class == TherapyClass::Ssa;
                FactKind::Therapy(Therapy { class, tense: *tense, escalated, outcome: None, until: *until })
            }
            (PendingKind::TumourSize { largest }, Definition::BodyStructure { site }) => {
                FactKind::TumourSize { site: (*site)?, largest: *largest }
            }
            _ => return None,
        };
        Some(Fact { source: self.source.clone(), at: self.at, preliminary: self.preliminary, kind })
    }
}
