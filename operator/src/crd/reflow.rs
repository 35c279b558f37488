//! Descriptions as `kubectl explain` should show them: doc comments are wrapped at about 100
//! columns, and the derived schema keeps those line breaks, so a sentence breaks wherever the
//! source wrapped it. Reflowed, each paragraph is one line; paragraphs (blank lines), list items
//! (`- `, `* `) and indented or fenced code keep their own lines.

use serde_json::Value;

/// Reflows every `description` string anywhere under `node`.
pub fn descriptions(node: &mut Value) {
    match node {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(text) if key == "description" => *text = reflow(text),
                    _ => descriptions(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(descriptions),
        _ => {}
    }
}

/// One description with the line breaks inside its paragraphs removed.
pub fn reflow(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Whether the previous line is prose a following prose line continues.
    let (mut fenced, mut continues) = (false, false);
    for (index, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        let code = fenced || fence || line.starts_with([' ', '\t']);
        let blank = line.trim().is_empty();
        let prose = !code && !blank && !is_list_item(line);
        if index > 0 {
            out.push(if prose && continues { ' ' } else { '\n' });
        }
        out.push_str(line);
        continues = !code && !blank;
        fenced ^= fence;
    }
    out
}

/// A line that starts a list item, which keeps its own line.
fn is_list_item(line: &str) -> bool {
    line.starts_with("- ") || line.starts_with("* ")
}

#[cfg(test)]
mod tests {
    use super::reflow;

    #[test]
    fn a_wrapped_sentence_becomes_one_line() {
        assert_eq!(
            reflow(
                "Leave out partitions whose lag does not move (a stuck partition does\nnot get more consumers)."
            ),
            "Leave out partitions whose lag does not move (a stuck partition does not get more consumers)."
        );
    }

    #[test]
    fn paragraphs_lists_and_code_keep_their_lines() {
        let cases = [
            ("One\ntwo.\n\nThree\nfour.", "One two.\n\nThree four."),
            ("Items:\n- a\n- b\nwraps", "Items:\n- a\n- b wraps"),
            (
                "Code:\n\n    x = 1\n    y = 2",
                "Code:\n\n    x = 1\n    y = 2",
            ),
            ("```\na\nb\n```\nafter", "```\na\nb\n```\nafter"),
            ("no break", "no break"),
        ];
        for (text, expected) in cases {
            assert_eq!(reflow(text), expected, "{text:?}");
        }
    }
}
