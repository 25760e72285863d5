//! Profiles and the thresholds the paper leaves vague (*project defaults*).

use serde::{Deserialize, Serialize};

/// Which guideline a deployment follows where ENETS and NCCN differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// ENETS 2012 consensus (Rossi et al. ref 12). The default.
    #[default]
    Enets,
    /// NCCN 2012 guidelines (Rossi et al. ref 59).
    Nccn,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Enets => "enets",
            Profile::Nccn => "nccn",
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "enets" => Ok(Profile::Enets),
            "nccn" => Ok(Profile::Nccn),
            other => Err(format!("unknown profile {other:?}: expected enets or nccn")),
        }
    }
}

/// Thresholds marked *(project default)* in the specification. Configurable
/// per deployment; the defaults below are what the spec states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Two primary-size results must be at least this many months apart to
    /// compute a growth rate.
    pub growth_min_interval_months: u32,
    /// Radiofrequency ablation: at most this many liver lesions.
    pub ablation_max_lesions: u32,
    /// Embolization: ECOG above this counts as 'poor performance status'.
    pub embolization_max_ecog: u8,
    /// A follow-up is satisfied by a result dated on or after this many days before its due date.
    pub followup_satisfaction_days: u32,
    /// A follow-up turns from `scheduled` to `due` this many days before its due date.
    pub followup_due_window_days: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            growth_min_interval_months: 6,
            ablation_max_lesions: 5,
            embolization_max_ecog: 2,
            followup_satisfaction_days: 30,
            followup_due_window_days: 14,
        }
    }
}

/// Everything the guideline needs besides the facts and "now".
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub profile: Profile,
    pub thresholds: Thresholds,
}
