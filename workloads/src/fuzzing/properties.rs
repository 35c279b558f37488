//! librdkafka properties as the workloads read them (`--kafka-properties-file`): a file of
//! `key=value` lines, or a mounted Secret (a directory of one file per key, laid out as the
//! kubelet does: `..<timestamp>/` holds the files, `..data` links to it, each key links into it).

use std::{
    collections::BTreeMap,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
};

use crate::config::KafkaArgs;

/// Option bit 0: a Secret directory whose entries are the NUL-separated name/content pairs of
/// the rest; otherwise the rest is the file.
///
/// Holds: the client configuration holds every property the input gives (file: each line that
/// is neither blank nor a comment; Secret: each visible key, content trimmed), or the read
/// fails with an error.
pub fn kafka_properties(input: &[u8]) {
    let (options, rest) = super::options(input);
    let root = scratch();
    let _ = std::fs::remove_dir_all(&root);
    let written = if options & 1 == 0 {
        write_file(&root, rest)
    } else {
        write_secret(&root, rest)
    };
    let Some((path, expected)) = written else {
        return;
    };
    let args = KafkaArgs {
        bootstrap: "fuzz:9092".into(),
        properties_file: Some(path),
    };
    if let (Ok(config), Some(expected)) = (args.client_config(), expected) {
        for (key, value) in expected {
            let read = config.get(&key);
            match value {
                Some(value) => assert_eq!(read, Some(value.as_str()), "property {key:?}"),
                None => assert!(read.is_some(), "property {key:?} lost"),
            }
        }
    }
}

/// Per-process scratch directory (libFuzzer runs one input at a time per process).
fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("eventflow-fuzz-properties-{}", std::process::id()))
}

/// What a read must yield: `None` when the input cannot be read (not UTF-8); per key, the
/// value when it is known, or `None` to only require the key.
type Expected = Option<BTreeMap<String, Option<String>>>;

fn write_file(root: &Path, text: &[u8]) -> Option<(PathBuf, Expected)> {
    std::fs::create_dir_all(root).ok()?;
    let path = root.join("kafka.properties");
    std::fs::write(&path, text).ok()?;
    let expected = std::str::from_utf8(text).ok().map(|text| {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let key = line.split_once('=').map_or(line, |(key, _)| key);
                (key.trim().to_owned(), None)
            })
            .collect()
    });
    Some((path, expected))
}

fn write_secret(root: &Path, entries: &[u8]) -> Option<(PathBuf, Expected)> {
    let data = root.join("..2026_11_30_fuzz");
    std::fs::create_dir_all(&data).ok()?;
    symlink("..2026_11_30_fuzz", root.join("..data")).ok()?;
    let mut files = BTreeMap::new();
    let mut parts = entries.split(|b| *b == 0);
    while let (Some(name), Some(content)) = (parts.next(), parts.next()) {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            continue;
        }
        std::fs::write(data.join(name), content).ok()?;
        if !name.starts_with('.') {
            files.insert(name.to_owned(), content.to_vec());
        }
    }
    let mut expected = BTreeMap::new();
    for (name, content) in files {
        symlink(format!("..data/{name}"), root.join(&name)).ok()?;
        let Ok(content) = String::from_utf8(content) else {
            return Some((root.to_owned(), None));
        };
        expected.insert(name, Some(content.trim().to_owned()));
    }
    Some((root.to_owned(), Some(expected)))
}
