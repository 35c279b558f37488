//! Reading the repository: paths, YAML documents and Helm templates with their actions blanked.

use std::{
    fs,
    path::{Path, PathBuf},
};

use serde::Deserialize;

/// The repository root (the operator crate's parent).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A file's text, by path relative to the root; the error names the file.
pub fn read(relative: &str) -> String {
    let path = root().join(relative);
    fs::read_to_string(&path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))
        .unwrap()
}

/// Files under a directory (recursively, sorted) whose names end with one of `suffixes`.
pub fn files_under(relative: &str, suffixes: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root().join(relative)];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                pending.push(path);
            } else if suffixes.iter().any(|suffix| name.ends_with(suffix)) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Path relative to the root, for messages.
pub fn display(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The non-empty documents of a (multi-document) YAML text, as `T`.
pub fn documents<T: for<'de> Deserialize<'de>>(text: &str) -> Result<Vec<T>, serde_yaml::Error> {
    serde_yaml::Deserializer::from_str(text)
        .map(serde_yaml::Value::deserialize)
        .filter(|document| !matches!(document, Ok(serde_yaml::Value::Null)))
        .map(|document| document.and_then(serde_yaml::from_value))
        .collect()
}

/// The documents of a YAML file relative to the root; the error names the file.
pub fn yaml_file<T: for<'de> Deserialize<'de>>(relative: &str) -> Vec<T> {
    documents(&read(relative))
        .map_err(|error| format!("{relative} is not valid YAML: {error}"))
        .unwrap()
}

/// A Helm template with its actions blanked, so that its static shape parses as YAML: a line
/// that is only an action (`{{- if ... }}`, `{{- include ... | nindent 4 }}`) is dropped, an
/// action inside a line becomes the string `placeholder`.
pub fn blank_template_actions(template: &str) -> String {
    template
        .lines()
        .filter(|line| {
            let line = line.trim();
            !(line.starts_with("{{") && line.ends_with("}}") && line.matches("{{").count() == 1)
        })
        .map(|line| {
            let mut out = String::new();
            let mut rest = line;
            while let Some(start) = rest.find("{{") {
                let Some(length) = rest[start..].find("}}") else {
                    break;
                };
                out.push_str(&rest[..start]);
                out.push_str("placeholder");
                rest = &rest[start + length + 2..];
            }
            out.push_str(rest);
            out + "\n"
        })
        .collect()
}

#[test]
fn blanking_keeps_the_static_yaml_of_a_template() {
    let template = "metadata:\n  name: {{ include \"x\" . }}-metrics\n  labels:\n    {{- include \"l\" . | nindent 4 }}\n{{- if .Values.a }}\nspec: {}\n{{- end }}\n";
    let value: Vec<serde_yaml::Value> = documents(&blank_template_actions(template)).unwrap();
    assert_eq!(value[0]["metadata"]["name"], "placeholder-metrics");
    assert!(value[0]["metadata"]["labels"].is_null());
    assert!(value[0]["spec"].is_mapping());
}
