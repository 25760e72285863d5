//! `value[x]` of an Observation, and quantities converted to the unit a fact needs.

use super::{choice_in, problem, value_err, Result};
use crate::datetime::parse_date_time;
use crate::json::{parse_named, CodeableConcept, Comparator, Obj, Quantity, Str};
use crate::reject::{echo, RejectReason};
use crate::systems;
use crate::units::{factor, Canonical};
use islet_guideline::facts::{OutOfRange, ProblemKind};
use islet_guideline::FactKind;

/// An Observation's `value[x]`, checked (fhir-sdk drops a malformed one silently).
#[derive(Debug, Clone)]
pub(super) enum Value<'a> {
    Quantity(Quantity<'a>),
    Concept(CodeableConcept<'a>),
    Integer(i64),
    /// Another well-formed value type, by element name (`valueString` …).
    Other(&'static str),
}

impl Value<'_> {
    pub(super) fn element(&self) -> &'static str {
        match self {
            Value::Quantity(_) => "valueQuantity",
            Value::Concept(_) => "valueCodeableConcept",
            Value::Integer(_) => "valueInteger",
            Value::Other(name) => name,
        }
    }
}

const OBSERVATION_VALUES: [&str; 11] = [
    "Quantity",
    "CodeableConcept",
    "String",
    "Boolean",
    "Integer",
    "Range",
    "Ratio",
    "SampledData",
    "Time",
    "DateTime",
    "Period",
];

/// `value[x]` of an Observation or a component; `path` prefixes element names.
pub(super) fn observation_value<'a>(obj: &Obj<'a>, path: &str) -> Result<Option<Value<'a>>> {
    let Some((kind, raw)) = choice_in(obj, "value", &OBSERVATION_VALUES, "Observation", path)? else {
        return Ok(None);
    };
    let name = || format!("{path}value{kind}");
    let v = match kind {
        "Quantity" => {
            // Without `value` (a data-absent-reason, a unit only) it is
            // well-formed but unusable: a problem fact where a number belongs.
            Value::Quantity(parse_named(raw, name).map_err(value_err)?)
        }
        "CodeableConcept" => Value::Concept(parse_named(raw, name).map_err(value_err)?),
        "Integer" => {
            let n: i32 = parse_named(raw, name).map_err(value_err)?;
            Value::Integer(i64::from(n))
        }
        "String" | "Time" => {
            parse_named::<Str<'a>>(raw, name).map_err(value_err)?;
            Value::Other(if kind == "String" { "valueString" } else { "valueTime" })
        }
        "DateTime" => {
            let s: Str<'a> = parse_named(raw, name).map_err(value_err)?;
            parse_date_time(&s).map_err(|why| RejectReason::MalformedValue { field: name(), problem: why.into() })?;
            Value::Other("valueDateTime")
        }
        "Boolean" => {
            parse_named::<bool>(raw, name).map_err(value_err)?;
            Value::Other("valueBoolean")
        }
        other => {
            if !raw.get().starts_with('{') {
                return Err(RejectReason::MalformedValue { field: name(), problem: "must be a JSON object".into() });
            }
            Value::Other(match other {
                "Range" => "valueRange",
                "Ratio" => "valueRatio",
                "SampledData" => "valueSampledData",
                _ => "valuePeriod",
            })
        }
    };
    Ok(Some(v))
}

/// A validated fact, or an implausible-value problem naming the range.
pub(super) fn bounded(r: Result<FactKind, OutOfRange>) -> FactKind {
    r.unwrap_or_else(|e| problem(ProblemKind::ImplausibleValue, e.to_string()))
}

/// A quantity's value in `target`; comparators give the nearest value that satisfies them.
pub(super) fn convert(q: &Quantity<'_>, target: Canonical, label: &str) -> Result<f64, FactKind> {
    let value = q.value.map_or(f64::NAN, |d| d.0);
    let ucum_code = q.code.as_deref().filter(|_| q.system.as_deref().is_none_or(|s| s == systems::UCUM));
    let unit = ucum_code.or(q.unit.as_deref());
    let Some(unit) = unit else {
        return Err(problem(
            ProblemKind::UnknownUnit,
            format!("{label}: the quantity has no unit; expected {}", target.label()),
        ));
    };
    let f = factor(unit, target).or_else(|| q.unit.as_deref().and_then(|u| factor(u, target))).ok_or_else(|| {
        problem(
            ProblemKind::UnknownUnit,
            format!("{label}: unit `{}` cannot be converted to {}", echo(unit), target.label()),
        )
    })?;
    let value = match q.comparator {
        None | Some(Comparator::Le | Comparator::Ge) => value,
        Some(Comparator::Lt) => value.next_down(),
        Some(Comparator::Gt) => value.next_up(),
    };
    Ok(value * f)
}
