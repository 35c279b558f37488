//! Kubernetes quantities compared by value: the API server stores `cpu: "0.5"` as `500m` and
//! `memory: 1024Mi` as `1Gi`, so a spec's text and the stored text of one value may differ.

/// A quantity's exact value: `digits * 10^exponent`, `digits` not divisible by ten (zero: 0).
#[derive(Debug, PartialEq, Eq)]
struct Exact {
    negative: bool,
    digits: u128,
    exponent: i64,
}

/// The binary suffixes and their powers of two.
const BINARY: [(&str, u32); 6] = [
    ("Ki", 10),
    ("Mi", 20),
    ("Gi", 30),
    ("Ti", 40),
    ("Pi", 50),
    ("Ei", 60),
];

/// Whether two quantity texts are the same value (equal texts always are; text that is not a
/// quantity, or too large to compare exactly, equals only itself).
pub fn same(a: &str, b: &str) -> bool {
    a == b || parse(a).is_some_and(|a| parse(b).is_some_and(|b| a == b))
}

/// `<sign><digits>.<digits><suffix>`, the suffix binary (`Ki`..`Ei`), decimal (`n`..`E`) or an
/// exponent (`e3`, `E-2`), as the API server parses it.
fn parse(text: &str) -> Option<Exact> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut digits: u128 = 0;
    for byte in whole.bytes().chain(fraction.bytes()) {
        if !byte.is_ascii_digit() {
            return None; // a second '.'
        }
        digits = digits
            .checked_mul(10)?
            .checked_add(u128::from(byte - b'0'))?;
    }
    let (power_of_two, power_of_ten) = suffix_powers(suffix)?;
    let digits = digits.checked_mul(1_u128 << power_of_two)?;
    let exponent = power_of_ten.checked_sub(i64::try_from(fraction.len()).ok()?)?;
    Some(Exact::normalized(negative, digits, exponent))
}

/// The powers of two and of ten a suffix multiplies by.
fn suffix_powers(suffix: &str) -> Option<(u32, i64)> {
    if let Some((_, power)) = BINARY.iter().find(|(name, _)| *name == suffix) {
        return Some((*power, 0));
    }
    let power = match suffix {
        "n" => -9,
        "u" => -6,
        "m" => -3,
        "" => 0,
        "k" => 3,
        "M" => 6,
        "G" => 9,
        "T" => 12,
        "P" => 15,
        "E" => 18,
        _ => suffix.strip_prefix(['e', 'E'])?.parse().ok()?,
    };
    Some((0, power))
}

impl Exact {
    /// The one representation of `digits * 10^exponent` (trailing zeros moved to the exponent).
    fn normalized(negative: bool, mut digits: u128, mut exponent: i64) -> Self {
        if digits == 0 {
            return Self {
                negative: false,
                digits,
                exponent: 0,
            };
        }
        while digits.is_multiple_of(10) {
            digits /= 10;
            exponent += 1;
        }
        Self {
            negative,
            digits,
            exponent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn a_stored_canonical_form_is_the_same_value_as_the_spec_form() {
        // (as written in a pipeline, as the API server stores it)
        let cases = [
            ("0.5", "500m"),
            ("1024Mi", "1Gi"),
            ("1000m", "1"),
            ("1e3", "1k"),
            ("1E3", "1k"),
            (".5", "500m"),
            ("1.5Gi", "1536Mi"),
            ("2048Ki", "2Mi"),
            ("1000000", "1M"),
            ("0.000001", "1u"),
            ("+1", "1"),
            ("0", "0"),
            ("0m", "0"),
            ("128Mi", "128Mi"),
        ];
        for (spec, stored) in cases {
            assert!(same(spec, stored), "{spec} vs {stored}");
            assert!(same(stored, spec), "{stored} vs {spec}");
        }
    }

    #[test]
    fn different_values_and_non_quantities_differ() {
        let cases = [
            ("500m", "501m"),
            ("1Gi", "1G"),
            ("1", "-1"),
            ("1k", "1Ki"),
            ("1x", "1"),
            ("1.2.3", "1.23"),
            ("", "0"),
            ("abc", "abd"),
        ];
        for (a, b) in cases {
            assert!(!same(a, b), "{a} vs {b}");
        }
        assert!(same("abc", "abc"), "equal text is equal");
    }
}
