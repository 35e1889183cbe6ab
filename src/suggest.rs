//! "Did you mean" for mistyped names: the closest known name by edit distance, when close.

/// ` (did you mean `best`?)` for the candidate closest to `word`, or an empty string when
/// none is within a third of the word's length (at least 1, at most 3 edits).
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, best)| format!(" (did you mean `{best}`?)"))
        .unwrap_or_default()
}

/// A serde message naming an unknown field or variant (``unknown field `epoch`, expected one
/// of `epochs`, …``) with a suggestion after its first clause; other messages unchanged.
pub fn serde_message(message: &str) -> String {
    let unknown = ["unknown field `", "unknown variant `"];
    if !unknown.iter().any(|u| message.starts_with(u)) {
        return message.to_string();
    }
    let words: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let Some((given, known)) = words.split_first() else {
        return message.to_string();
    };
    let hint = did_you_mean(given, known.iter().copied());
    match message.split_once(", expected") {
        Some((head, tail)) => format!("{head}{hint}, expected{tail}"),
        None => format!("{message}{hint}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_name_within_reach() {
        let names = ["epochs", "batch_size", "lr"];
        assert_eq!(did_you_mean("epoch", names), " (did you mean `epochs`?)");
        assert_eq!(
            did_you_mean("batchsize", names),
            " (did you mean `batch_size`?)"
        );
        assert_eq!(did_you_mean("momentum", names), "");
    }

    #[test]
    fn rewrites_serde_unknown_field_messages() {
        let m = "unknown field `epoch`, expected one of `rule`, `epochs`";
        assert_eq!(
            serde_message(m),
            "unknown field `epoch` (did you mean `epochs`?), expected one of `rule`, `epochs`"
        );
        assert_eq!(serde_message("invalid type"), "invalid type");
    }
}
