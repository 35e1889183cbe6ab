//! Config errors placed in their file: a key's error from an experiment, comparison or sweep
//! file names the file and the line that sets the key (`x.toml: line 7: config
//! `train.epochs`: must be at least 1`); an error caused by a `--set` override stays as it is.

use std::path::Path;

use crate::error::Error;

/// The 1-based line of `text` (TOML) that sets `key` (dotted; `variant[2].train.lr` for the
/// third `[[variant]]` table; an index like `hidden[0]` ends the key), if one does.
pub fn locate(text: &str, key: &str) -> Option<usize> {
    line_of(text, key).or_else(|| line_of(text, strip_trailing_index(key)))
}

/// The line setting exactly `key` (or a table holding it).
fn line_of(text: &str, key: &str) -> Option<usize> {
    let mut section = String::new();
    let mut arrays: std::collections::BTreeMap<String, usize> = Default::default();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(name) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            let name = unquote_path(name);
            let count = arrays.entry(name.clone()).or_insert(0);
            section = format!("{name}[{count}]");
            *count += 1;
            if key == section {
                return Some(index + 1);
            }
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            section = unquote_path(name);
            if key == section {
                return Some(index + 1);
            }
            continue;
        }
        let Some((left, _)) = line.split_once('=') else {
            continue;
        };
        if left.trim_start().starts_with('#') {
            continue;
        }
        let leaf = unquote_path(left);
        let full = if section.is_empty() {
            leaf
        } else {
            format!("{section}.{leaf}")
        };
        if key == full || key.starts_with(&format!("{full}.")) {
            return Some(index + 1);
        }
    }
    None
}

/// `model.hidden[0]` → `model.hidden`; `variant[2].train.lr` unchanged.
fn strip_trailing_index(key: &str) -> &str {
    match key.rfind('[') {
        Some(at) if !key[at..].contains('.') => &key[..at],
        _ => key,
    }
}

/// A dotted TOML key with its parts' quotes and spaces removed: `"train" . lr` → `train.lr`.
fn unquote_path(text: &str) -> String {
    text.split('.')
        .map(|part| part.trim().trim_matches('"').trim_matches('\''))
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether `key` was set (or had a section set) by one of the `key=value` `overrides`.
fn overridden(key: &str, overrides: &[String]) -> bool {
    overrides.iter().any(|item| {
        let set = item.split('=').next().unwrap_or("").trim();
        key == set || key.starts_with(&format!("{set}.")) || set.starts_with(&format!("{key}."))
    })
}

/// `error` placed in the file `path` holding `text`: a config error whose key the overrides
/// did not set names the file, and the line setting the first of `line_keys` found (the
/// error's own key when empty). Other errors are returned as they are.
pub fn in_file(
    error: Error,
    path: &Path,
    text: &str,
    overrides: &[String],
    line_keys: &[&str],
) -> Error {
    let Error::Config { key, message } = &error else {
        return error;
    };
    let shown = path.display().to_string();
    if overridden(key, overrides) || message.contains(&shown) {
        return error;
    }
    let line = match line_keys {
        [] => locate(text, key),
        keys => keys.iter().find_map(|k| locate(text, k)),
    };
    Error::ConfigFile {
        path: path.to_path_buf(),
        message: match line {
            Some(line) => format!("line {line}: {error}"),
            None => error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name = \"x\"\ntrain.rule = \"dfa\"\n\n[model]\nhidden = [0, 3]\n\
                        \n[[variant]]\nname = \"a\"\n\n[[variant]]\nname = \"b\"\ntrain.lr = -1\n";

    #[test]
    fn finds_the_line_of_dotted_sectioned_and_indexed_keys() {
        assert_eq!(locate(TEXT, "name"), Some(1));
        assert_eq!(locate(TEXT, "train.rule"), Some(2));
        assert_eq!(locate(TEXT, "model.hidden[0]"), Some(5));
        assert_eq!(locate(TEXT, "model"), Some(4));
        assert_eq!(locate(TEXT, "variant[1].train.lr"), Some(12));
        assert_eq!(locate(TEXT, "variant[1]"), Some(10));
        assert_eq!(locate(TEXT, "train.epochs"), None);
    }

    #[test]
    fn places_file_errors_but_not_override_errors() {
        let error = || Error::config("model.hidden", "a layer cannot have 0 units");
        let placed = in_file(error(), "x.toml".as_ref(), TEXT, &[], &[]);
        assert_eq!(
            placed.to_string(),
            "x.toml: line 5: config `model.hidden`: a layer cannot have 0 units"
        );
        let set = ["model.hidden=[0]".to_string()];
        let kept = in_file(error(), "x.toml".as_ref(), TEXT, &set, &[]);
        assert_eq!(
            kept.to_string(),
            "config `model.hidden`: a layer cannot have 0 units"
        );
    }
}
