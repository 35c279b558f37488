//! The format of `kafka.secretRef`: extra librdkafka properties (security.protocol, sasl.*,
//! ssl.*), as a file of `key=value` lines or as a mounted Secret, a directory of one file per key.

use std::path::Path;

use crate::{Error, Result};

/// Reads librdkafka properties from a `key=value` file or a directory of one file per key
/// (hidden entries such as a mounted Secret's `..data` are skipped), sorted by key.
pub fn read(path: &Path) -> Result<Vec<(String, String)>> {
    if !path.is_dir() {
        let text = read_file(path)?;
        return Ok(parse(&text)
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect());
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
        properties.push((key.to_owned(), read_file(&entry_path)?.trim().to_owned()));
    }
    properties.sort();
    Ok(properties)
}

/// Parses `key=value` lines; blank lines and `#` comments are skipped.
pub fn parse(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim(), value.trim()))
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
        let parsed: Vec<_> =
            parse("# sasl\nsecurity.protocol = SASL_SSL\n\nsasl.mechanism=PLAIN\n").collect();
        assert_eq!(
            parsed,
            vec![
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "PLAIN")
            ]
        );
    }
}
