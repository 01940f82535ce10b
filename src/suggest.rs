//! "Did you mean …?" for misspelt keys, file names, formats and placeholders.

/// The closest candidate to `word`, if one is close enough to be a likely typo: at most one
/// edit per three characters of the candidate (and always one), ignoring case.
pub(crate) fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(&word_lower, &candidate.to_lowercase()), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.chars().count() / 3).max(1))
        .min()
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_close_matches() {
        assert_eq!(closest("sumary", ["summary", "title"]), Some("summary"));
        assert_eq!(closest("hero.jpeg", ["hero.jpg", "side.jpg"]), Some("hero.jpg"));
        assert_eq!(closest("EUR", ["usd"]), None);
        assert_eq!(closest("colour", ["summary", "title"]), None);
    }
}
