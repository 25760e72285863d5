//! The few UCUM units Islet converts, each to one canonical unit.
//!
//! Not a UCUM implementation: a prefix table and the unit families the code
//! tables need (percent, length, mass / substance / enzyme-unit
//! concentrations, mitotic counts). The micro sign (`µ`, `μ`) is accepted in
//! place of UCUM's `u` because laboratory systems send it in `Quantity.unit`.

/// What a quantity has to be converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Canonical {
    /// `%`
    Percent,
    /// `mm`
    Millimetre,
    /// `ng/mL` (= µg/L)
    NanogramPerMl,
    /// `pg/mL`
    PicogramPerMl,
    /// `nmol/L`
    NanomolPerL,
    /// `U/L`
    UnitPerL,
    /// mitoses per 10 HPF (or per 2 mm²)
    MitosesPer10Hpf,
}

impl Canonical {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Canonical::Percent => "%",
            Canonical::Millimetre => "mm",
            Canonical::NanogramPerMl => "ng/mL",
            Canonical::PicogramPerMl => "pg/mL",
            Canonical::NanomolPerL => "nmol/L",
            Canonical::UnitPerL => "U/L",
            Canonical::MitosesPer10Hpf => "/10.[HPF]",
        }
    }
}

/// The factor that converts a value in `unit` to `target`, if Islet knows it.
pub(crate) fn factor(unit: &str, target: Canonical) -> Option<f64> {
    let unit = unit.trim();
    match target {
        Canonical::Percent => (unit == "%").then_some(1.0),
        Canonical::Millimetre => {
            let p = prefix_of(unit.strip_suffix('m')?)?;
            Some(p / 1e-3)
        }
        Canonical::NanogramPerMl => per_volume(unit, "g").map(|f| f / 1e-6),
        Canonical::PicogramPerMl => per_volume(unit, "g").map(|f| f / 1e-9),
        Canonical::NanomolPerL => per_volume(unit, "mol").map(|f| f / 1e-9),
        Canonical::UnitPerL => per_volume(unit, "U"),
        Canonical::MitosesPer10Hpf => matches!(
            unit,
            "{#}"
                | "/[HPF]"
                | "/10.[HPF]"
                | "/(10.[HPF])"
                | "{#}/10.[HPF]"
                | "{mitoses}/10.[HPF]"
                | "{mitoses}"
                | "/2.mm2"
                | "/(2.mm2)"
                | "{#}/2.mm2"
                | "{mitoses}/2.mm2"
        )
        .then_some(1.0),
    }
}

/// `<prefix><base>/<prefix>L` → factor to `<base>/L`.
fn per_volume(unit: &str, base: &str) -> Option<f64> {
    let (num, den) = unit.split_once('/')?;
    let num = prefix_of(num.strip_suffix(base)?)?;
    let den = prefix_of(den.strip_suffix('L').or_else(|| den.strip_suffix('l'))?)?;
    Some(num / den)
}

fn prefix_of(p: &str) -> Option<f64> {
    Some(match p {
        "" => 1.0,
        "k" => 1e3,
        "d" => 1e-1,
        "c" => 1e-2,
        "m" => 1e-3,
        "u" | "µ" | "μ" | "mc" => 1e-6,
        "n" => 1e-9,
        "p" => 1e-12,
        "f" => 1e-15,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() <= 1e-9 * b.abs().max(1.0))
    }

    #[test]
    fn lengths() {
        assert!(close(factor("mm", Canonical::Millimetre), 1.0));
        assert!(close(factor("cm", Canonical::Millimetre), 10.0));
        assert!(close(factor("m", Canonical::Millimetre), 1000.0));
        assert_eq!(factor("in", Canonical::Millimetre), None);
        assert_eq!(factor("", Canonical::Millimetre), None);
    }

    #[test]
    fn mass_concentrations() {
        for (u, f) in [
            ("ng/mL", 1.0),
            ("ug/L", 1.0),
            ("µg/L", 1.0),
            ("μg/L", 1.0),
            ("mg/L", 1000.0),
            ("pg/mL", 0.001),
            ("ng/L", 0.001),
            ("ug/mL", 1000.0),
            ("ng/dL", 0.01),
            ("g/L", 1e6),
        ] {
            assert!(close(factor(u, Canonical::NanogramPerMl), f), "{u}");
        }
        assert!(close(factor("ng/L", Canonical::PicogramPerMl), 1.0));
        assert!(close(factor("pg/mL", Canonical::PicogramPerMl), 1.0));
        assert_eq!(factor("nmol/L", Canonical::NanogramPerMl), None);
        assert_eq!(factor("U/L", Canonical::NanogramPerMl), None);
    }

    #[test]
    fn substance_and_enzyme_units() {
        assert!(close(factor("nmol/L", Canonical::NanomolPerL), 1.0));
        assert!(close(factor("pmol/L", Canonical::NanomolPerL), 0.001));
        assert!(close(factor("umol/L", Canonical::NanomolPerL), 1000.0));
        assert!(close(factor("U/L", Canonical::UnitPerL), 1.0));
        assert!(close(factor("kU/L", Canonical::UnitPerL), 1000.0));
        assert!(close(factor("U/mL", Canonical::UnitPerL), 1000.0));
        assert_eq!(factor("ng/mL", Canonical::UnitPerL), None);
    }

    #[test]
    fn percent_and_mitoses() {
        assert!(close(factor("%", Canonical::Percent), 1.0));
        assert_eq!(factor("1", Canonical::Percent), None);
        for u in ["{#}", "/[HPF]", "/10.[HPF]", "/2.mm2"] {
            assert!(close(factor(u, Canonical::MitosesPer10Hpf), 1.0), "{u}");
        }
        assert_eq!(factor("/50.[HPF]", Canonical::MitosesPer10Hpf), None);
    }
}
