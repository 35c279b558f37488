//! Kubernetes quantities compared by value: the API server stores `cpu: "0.5"` as `500m` and
//! `memory: 1024Mi` as `1Gi`, so a spec's text and the stored text of one value may differ.

use kube_quantity::ParsedQuantity;

/// Whether two quantity texts are the same value (equal texts always are; text that is not a
/// quantity equals only itself).
pub fn same(a: &str, b: &str) -> bool {
    a == b
        || ParsedQuantity::try_from(a)
            .is_ok_and(|a| ParsedQuantity::try_from(b).is_ok_and(|b| a == b))
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
