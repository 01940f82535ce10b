//! The all-or-nothing AVIF set: a source's AVIFs are published only if every one is smaller
//! than the WebP of its width (`images::spool_source`). Whether a set has lost, from the
//! variants made so far, and in which rounds a source's missing variants are made so that
//! AVIFs of a lost set are never encoded: pure, but for [`smallest_avif`], which asks the
//! linked encoder (once per build).

use std::collections::BTreeMap;

use super::Slot;
use super::avif;
use super::encode::Encoding;
use super::plan::{Size, SourcePlan};

/// Whether the source's AVIF set has lost, from what is in `encoded`: an AVIF no smaller than
/// the WebP of its width, or a WebP no larger than `smallest_avif`, the fewest bytes any AVIF
/// can take, so that its AVIF would be no smaller. Then the whole AVIF set is dropped (see
/// `images::spool_source`) whatever the other AVIFs are, made or not.
pub(super) fn avif_set_loses(
    source: &SourcePlan,
    encoded: &BTreeMap<Slot, Vec<u8>>,
    smallest_avif: usize,
) -> bool {
    if !source.encodings.iter().any(Encoding::is_avif) {
        return false;
    }
    let webp_bytes = webp_sizes(source, encoded);
    // WebPs and AVIFs are made at the same widths.
    webp_bytes.values().any(|&webp| webp <= smallest_avif)
        || encoded.iter().any(|(slot, bytes)| {
            is_avif(source, slot) && webp_bytes.get(&slot.1).is_some_and(|&webp| bytes.len() >= webp)
        })
}

/// The size of each WebP made so far, by width: what the AVIF of the width must be smaller
/// than.
pub(super) fn webp_sizes(source: &SourcePlan, encoded: &BTreeMap<Slot, Vec<u8>>) -> BTreeMap<Size, usize> {
    encoded
        .iter()
        .filter(|((index, _), _)| matches!(source.encodings[*index], Encoding::Webp { .. }))
        .map(|((_, size), bytes)| (*size, bytes.len()))
        .collect()
}

/// The fewest bytes an AVIF of `source` can take, asked of the encoder only for sources
/// that have AVIFs (it encodes a probe the first time).
pub(super) fn smallest_avif(source: &SourcePlan) -> usize {
    if source.encodings.iter().any(Encoding::is_avif) { avif::encoder().smallest_file } else { 0 }
}

pub(super) fn is_avif(source: &SourcePlan, slot: &Slot) -> bool {
    source.encodings[slot.0].is_avif()
}

/// The variants still to make, in three rounds: everything but AVIF; then the narrowest
/// missing AVIF; then the other AVIFs. An AVIF set is all or nothing, and it is likeliest to
/// lose at its narrowest width, where the AVIF container's fixed bytes weigh most (on a site
/// of 96-px thumbnails, every AVIF set lost), so each round of AVIFs is made only if the
/// set has not lost by then ([`avif_set_loses`]). What is published never changes, only the
/// work. A source with no WebP to lose against makes everything at once.
pub(super) fn rounds<'a>(
    source: &SourcePlan,
    missing: &[&'a (Slot, String)],
) -> [Vec<&'a (Slot, String)>; 3] {
    let has_webp = source.encodings.iter().any(|encoding| matches!(encoding, Encoding::Webp { .. }));
    if !has_webp {
        return [missing.to_vec(), Vec::new(), Vec::new()];
    }
    let (avifs, others): (Vec<_>, Vec<_>) =
        missing.iter().copied().partition(|(slot, _)| is_avif(source, slot));
    let narrowest = avifs.iter().map(|((_, size), _)| size.width).min();
    let (first, rest) = avifs.into_iter().partition(|((_, size), _)| Some(size.width) == narrowest);
    [others, first, rest]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::tests::source;
    use crate::images::variant_keys;

    /// The cache keys `make` would look for, by slot.
    fn keys(source: &SourcePlan) -> Vec<(Slot, String)> {
        variant_keys(source, true)
    }

    fn slots_of(round: &[&(Slot, String)]) -> Vec<(usize, u32)> {
        round.iter().map(|((index, size), _)| (*index, size.width)).collect()
    }

    #[test]
    fn avifs_are_made_after_everything_else_the_narrowest_first() {
        let source = source();
        let keys = keys(&source);
        let missing: Vec<&(Slot, String)> = keys.iter().collect();
        let [others, first, rest] = rounds(&source, &missing);
        assert_eq!(slots_of(&others), [(1, 320), (1, 640), (1, 1000), (2, 320), (2, 1000)]);
        assert_eq!(slots_of(&first), [(0, 320)]);
        assert_eq!(slots_of(&rest), [(0, 640), (0, 1000)]);
        // With the 320-px AVIF cached, the narrowest missing one comes first.
        let missing: Vec<&(Slot, String)> =
            keys.iter().filter(|((index, size), _)| *index != 0 || size.width != 320).collect();
        let [_, first, rest] = rounds(&source, &missing);
        assert_eq!((slots_of(&first), slots_of(&rest)), (vec![(0, 640)], vec![(0, 1000)]));
    }

    #[test]
    fn a_set_has_lost_at_an_avif_no_smaller_than_its_webp_or_a_webp_no_larger_than_any_avif() {
        let source = source();
        let (narrow, wide) = (source.sizes[0], source.sizes[2]);
        let pair = |avif: usize, webp: usize| {
            BTreeMap::from([((0, narrow), vec![0; avif]), ((1, narrow), vec![1; webp])])
        };
        assert!(avif_set_loses(&source, &pair(100, 100), 0));
        assert!(!avif_set_loses(&source, &pair(99, 100), 0));
        // A WebP no larger than the smallest AVIF possible: lost before any AVIF is made.
        let webp_only = BTreeMap::from([((1, wide), vec![1; 300])]);
        assert!(avif_set_loses(&source, &webp_only, 300));
        assert!(!avif_set_loses(&source, &webp_only, 299));
        assert!(!avif_set_loses(&source, &BTreeMap::new(), 300), "nothing known yet");
        // A source without AVIF has no set to lose.
        let mut webp_and_fallback = crate::images::tests::source();
        webp_and_fallback.encodings.remove(0);
        let webp_only = BTreeMap::from([((0, wide), vec![1; 10])]);
        assert!(!avif_set_loses(&webp_and_fallback, &webp_only, 300));
    }

    #[test]
    fn without_webp_every_avif_is_made_at_once() {
        let mut source = source();
        source.encodings.remove(1);
        let keys = keys(&source);
        let missing: Vec<&(Slot, String)> = keys.iter().collect();
        let [others, first, rest] = rounds(&source, &missing);
        assert_eq!(others.len(), keys.len());
        assert!(first.is_empty() && rest.is_empty());
    }
}
