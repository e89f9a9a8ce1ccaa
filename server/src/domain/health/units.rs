//! Unit conversion on the way in: every accepted unit maps to one canonical unit by
//! `canonical = value × factor + offset`. A unit that does not convert to the series type's
//! canonical unit is refused.

/// One accepted unit spelling and how it converts.
struct Conversion {
    unit: &'static str,
    canonical: &'static str,
    factor: f64,
    offset: f64,
}

const fn c(unit: &'static str, canonical: &'static str, factor: f64) -> Conversion {
    Conversion {
        unit,
        canonical,
        factor,
        offset: 0.0,
    }
}

/// Every accepted spelling, including each canonical unit itself. Lookups ignore ASCII case.
const CONVERSIONS: &[Conversion] = &[
    // Counts and rates.
    c("count", "count", 1.0),
    c("steps", "count", 1.0),
    c("bpm", "bpm", 1.0),
    c("count/min", "bpm", 1.0),
    c("beats/min", "bpm", 1.0),
    c("breaths/min", "breaths/min", 1.0),
    c("count/min", "breaths/min", 1.0),
    c("brpm", "breaths/min", 1.0),
    c("rpm", "rpm", 1.0),
    c("count/min", "rpm", 1.0),
    c("spm", "spm", 1.0),
    // HealthKit's canonical rate unit.
    c("count/s", "bpm", 60.0),
    c("count/s", "breaths/min", 60.0),
    c("count/s", "rpm", 60.0),
    // Durations.
    c("ms", "ms", 1.0),
    c("s", "ms", 1000.0),
    c("s", "s", 1.0),
    c("ms", "s", 0.001),
    c("min", "s", 60.0),
    c("h", "s", 3600.0),
    c("hr", "s", 3600.0),
    c("min", "min", 1.0),
    c("s", "min", 1.0 / 60.0),
    c("h", "min", 60.0),
    c("hr", "min", 60.0),
    // Mass.
    c("kg", "kg", 1.0),
    c("g", "kg", 0.001),
    c("lb", "kg", 0.453_592_37),
    c("lbs", "kg", 0.453_592_37),
    c("oz", "kg", 0.028_349_523_125),
    c("st", "kg", 6.350_293_18),
    c("g", "g", 1.0),
    c("mg", "g", 0.001),
    c("kg", "g", 1000.0),
    // Length.
    c("m", "m", 1.0),
    c("km", "m", 1000.0),
    c("cm", "m", 0.01),
    c("mm", "m", 0.001),
    c("mi", "m", 1_609.344),
    c("ft", "m", 0.3048),
    c("in", "m", 0.0254),
    c("yd", "m", 0.9144),
    c("cm", "cm", 1.0),
    c("m", "cm", 100.0),
    c("in", "cm", 2.54),
    c("ft", "cm", 30.48),
    // Energy.
    c("kcal", "kcal", 1.0),
    c("Cal", "kcal", 1.0),
    c("kJ", "kcal", 1.0 / 4.184),
    c("cal", "kcal", 0.001),
    // Temperature (with offsets, below).
    c("degC", "degC", 1.0),
    c("°C", "degC", 1.0),
    c("C", "degC", 1.0),
    // Ratios.
    c("%", "%", 1.0),
    c("percent", "%", 1.0),
    c("fraction", "%", 100.0),
    c("ratio", "%", 100.0),
    // Blood.
    c("mg/dL", "mg/dL", 1.0),
    c("mmol/L", "mg/dL", 18.0156),
    c("mmHg", "mmHg", 1.0),
    c("kPa", "mmHg", 7.500_615_75),
    // Speed, power, volume, fitness, environment.
    c("m/s", "m/s", 1.0),
    c("km/h", "m/s", 1.0 / 3.6),
    c("mph", "m/s", 0.447_04),
    c("W", "W", 1.0),
    c("mL", "mL", 1.0),
    c("L", "mL", 1000.0),
    c("fl_oz_us", "mL", 29.573_529_562_5),
    c("L", "L", 1.0),
    c("mL", "L", 0.001),
    c("L/min", "L/min", 1.0),
    c("years", "years", 1.0),
    c("yr", "years", 1.0),
    c("MET", "MET", 1.0),
    c("kcal/(kg*hr)", "MET", 1.0),
    c("deg", "deg", 1.0),
    c("degrees", "deg", 1.0),
    c("mL/(kg*min)", "mL/(kg*min)", 1.0),
    c("ml/kg/min", "mL/(kg*min)", 1.0),
    c("dBASPL", "dBASPL", 1.0),
    c("dB", "dBASPL", 1.0),
    c("lx", "lx", 1.0),
    c("kg/m2", "kg/m2", 1.0),
    c("kg/m^2", "kg/m2", 1.0),
    c("mS/cm", "mS/cm", 1.0),
    c("IU", "IU", 1.0),
    c("mcg", "mcg", 1.0),
    c("ug", "mcg", 1.0),
    c("mg", "mcg", 1000.0),
    c("mg", "mg", 1.0),
    c("g", "mg", 1000.0),
    c("mcg", "mg", 0.001),
    c("score", "score", 1.0),
    c("level", "level", 1.0),
    c("index", "index", 1.0),
];

/// Temperature units need an offset as well as a factor.
const TEMPERATURES: &[Conversion] = &[
    Conversion {
        unit: "degF",
        canonical: "degC",
        factor: 5.0 / 9.0,
        offset: -32.0 * 5.0 / 9.0,
    },
    Conversion {
        unit: "°F",
        canonical: "degC",
        factor: 5.0 / 9.0,
        offset: -32.0 * 5.0 / 9.0,
    },
    Conversion {
        unit: "F",
        canonical: "degC",
        factor: 5.0 / 9.0,
        offset: -32.0 * 5.0 / 9.0,
    },
    Conversion {
        unit: "K",
        canonical: "degC",
        factor: 1.0,
        offset: -273.15,
    },
];

/// A conversion into `canonical`: multiply, then add.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToCanonical {
    pub factor: f64,
    pub offset: f64,
}

impl ToCanonical {
    /// Converts one value.
    pub fn apply(self, value: f64) -> f64 {
        value * self.factor + self.offset
    }
}

/// How to convert values in `unit` into `canonical`; `None` when they do not convert. An
/// empty `unit` means the canonical unit.
pub fn to_canonical(unit: &str, canonical: &str) -> Option<ToCanonical> {
    if unit.is_empty() || unit == canonical {
        return Some(ToCanonical {
            factor: 1.0,
            offset: 0.0,
        });
    }
    CONVERSIONS
        .iter()
        .chain(TEMPERATURES)
        .find(|c| c.canonical == canonical && (c.unit == unit || c.unit.eq_ignore_ascii_case(unit)))
        .map(|c| ToCanonical {
            factor: c.factor,
            offset: c.offset,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(value: f64, unit: &str, canonical: &str) -> f64 {
        to_canonical(unit, canonical).unwrap().apply(value)
    }

    #[test]
    fn common_units_convert_to_canonical() {
        assert!((convert(150.0, "lb", "kg") - 68.038_855_5).abs() < 1e-6);
        assert!((convert(98.6, "degF", "degC") - 37.0).abs() < 1e-9);
        assert!((convert(5.5, "mmol/L", "mg/dL") - 99.0858).abs() < 1e-4);
        assert!((convert(0.97, "fraction", "%") - 97.0).abs() < 1e-9);
        assert!((convert(1.0, "mi", "m") - 1609.344).abs() < 1e-9);
        assert!((convert(1.0, "kJ", "kcal") - 0.239_005_736).abs() < 1e-9);
        assert_eq!(convert(72.0, "", "bpm"), 72.0);
        assert_eq!(convert(72.0, "count/min", "bpm"), 72.0);
    }

    #[test]
    fn units_of_another_dimension_do_not_convert() {
        assert!(to_canonical("kg", "bpm").is_none());
        assert!(to_canonical("furlong", "m").is_none());
        assert!(to_canonical("degF", "kg").is_none());
    }
}
