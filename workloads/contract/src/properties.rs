//! The format of `kafka.secretRef`: extra librdkafka properties (security.protocol, sasl.*,
//! ssl.*), as a file of `key=value` lines or as a mounted Secret, a directory of one file per key.

use std::path::Path;

use crate::{Error, Result};

/// Reads librdkafka properties from a `key=value` file or a directory of one file per key
/// (hidden entries such as a mounted Secret's `..data` are skipped), sorted by key.
pub fn read(path: &Path) -> Result<Vec<(String, String)>> {
    if !path.is_dir() {
        let text = read_file(path)?;
        return parse(&text).map_err(|problem| Error::Properties {
            path: path.to_owned(),
            problem,
        });
    }
    let mut properties = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry_path = entry?.path();
        let Some(key) = entry_path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if key.starts_with('.') || entry_path.is_dir() {
            continue;
        }
        properties.push((key.to_owned(), value(&read_file(&entry_path)?).to_owned()));
    }
    properties.sort();
    Ok(properties)
}

/// A property's value as given in a file or a Secret key, without the surrounding whitespace
/// (`kubectl create secret --from-file` keeps a file's last newline, which would end up in a
/// password). The one rule for both the workloads' files and the operator's Secret.
pub fn value(raw: &str) -> &str {
    raw.trim()
}

/// A line of a properties file that is not `key=value`. Only its number is shown: the line
/// may be a password with its `=` missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line {line} is not `key=value` (its text is not shown: it may hold a secret)")]
pub struct NotKeyValue {
    /// The line's number, from 1.
    pub line: usize,
}

/// Parses `key=value` lines; blank lines and `#` comments are skipped. A line that is not
/// `key=value` (`security.protocol: SSL`, a lone word) is an error naming it, never skipped:
/// a silently dropped security setting would connect in plain text.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, NotKeyValue> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(number, line)| match line.split_once('=') {
            Some((key, raw)) if !key.trim().is_empty() => {
                Ok((key.trim().to_owned(), value(raw).to_owned()))
            }
            _ => Err(NotKeyValue { line: number }),
        })
        .collect()
}

fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_come_from_a_directory_of_files() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("props-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("..data"))?;
        std::fs::write(dir.join("sasl.mechanism"), "PLAIN\n")?;
        std::fs::write(dir.join("security.protocol"), "SASL_SSL")?;
        let properties = read(&dir);
        std::fs::remove_dir_all(&dir)?;
        assert_eq!(
            properties?,
            vec![
                ("sasl.mechanism".to_owned(), "PLAIN".to_owned()),
                ("security.protocol".to_owned(), "SASL_SSL".to_owned())
            ]
        );
        Ok(())
    }

    #[test]
    fn properties_skip_comments_and_blanks() {
        let parsed = parse("# sasl\nsecurity.protocol = SASL_SSL\n\nsasl.mechanism=PLAIN\n");
        assert_eq!(
            parsed,
            Ok(vec![
                ("security.protocol".to_owned(), "SASL_SSL".to_owned()),
                ("sasl.mechanism".to_owned(), "PLAIN".to_owned())
            ])
        );
    }

    /// Found by the `kafka_properties` fuzz target: such lines were dropped without a word.
    #[test]
    fn a_line_that_is_not_key_value_is_an_error_naming_it() -> Result<()> {
        for (text, line) in [
            ("security.protocol: SASL_SSL", 1),
            ("# tls\nssl.ca.location=/ca.pem\nSASL_SSL", 3),
            ("=PLAIN", 1),
        ] {
            assert_eq!(parse(text), Err(NotKeyValue { line }), "{text}");
        }
        let path = std::env::temp_dir().join(format!("props-line-{}", std::process::id()));
        std::fs::write(&path, "sasl.password s3cr3t-line\n")?;
        let error = read(&path).err().map(|e| e.to_string()).unwrap_or_default();
        std::fs::remove_file(&path)?;
        assert_eq!(
            error,
            format!(
                "{}: line 1 is not `key=value` (its text is not shown: it may hold a secret)",
                path.display()
            )
        );
        Ok(())
    }
}
