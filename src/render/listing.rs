//! The index and its archives: the drops grouped by their phase at the build's time, live
//! first (the next to end first), then upcoming in start order, then ended, newest first. The
//! index shows the first [`INDEX_LIVE`] live, [`INDEX_UPCOMING`] upcoming and [`INDEX_ENDED`]
//! ended drops; the rest of a phase is paged under
//! [`ARCHIVE_FOLDER`](crate::model::ARCHIVE_FOLDER) (`/drops/ended/`, `/drops/ended/2/`),
//! [`PAGE_SIZE`] drops a page, so the index does not grow with every drop ever made.
//!
//! Pure: the phases come from the times and `now`; the caller renders what this plans.

use serde::Serialize;
use time::OffsetDateTime;

use crate::model::Drop;

/// Live drops shown on the index; the rest are on `/drops/live/`.
pub(crate) const INDEX_LIVE: usize = 24;
/// Upcoming drops shown on the index; the rest are on `/drops/upcoming/`.
pub(crate) const INDEX_UPCOMING: usize = 12;
/// Ended drops shown on the index; the rest are on `/drops/ended/`.
pub(crate) const INDEX_ENDED: usize = 6;
/// Drops per archive page.
pub(crate) const PAGE_SIZE: usize = 24;

/// A drop's phase by its times at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Live,
    Upcoming,
    Ended,
}

/// When a drop opens and closes, and its slug (which breaks ties).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing<'a> {
    pub(crate) slug: &'a str,
    pub(crate) starts_at: OffsetDateTime,
    pub(crate) ends_at: Option<OffsetDateTime>,
}

impl<'a> Timing<'a> {
    pub(crate) fn of(drop: &'a Drop) -> Self {
        Timing {
            slug: drop.slug.as_str(),
            starts_at: drop.starts_at.0,
            ends_at: drop.ends_at.map(|end| end.0),
        }
    }
}

impl Phase {
    pub(crate) fn of(timing: &Timing<'_>, now: OffsetDateTime) -> Phase {
        if now < timing.starts_at {
            Phase::Upcoming
        } else if timing.ends_at.is_some_and(|end| now >= end) {
            Phase::Ended
        } else {
            Phase::Live
        }
    }

    fn key(self) -> &'static str {
        match self {
            Phase::Live => "live",
            Phase::Upcoming => "upcoming",
            Phase::Ended => "ended",
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Phase::Live => "Live now",
            Phase::Upcoming => "Coming up",
            Phase::Ended => "Ended",
        }
    }

    /// How many of the phase's drops the index shows.
    fn on_index(self) -> usize {
        match self {
            Phase::Live => INDEX_LIVE,
            Phase::Upcoming => INDEX_UPCOMING,
            Phase::Ended => INDEX_ENDED,
        }
    }
}

/// One group of the index: `sections` in `index.html`.
#[derive(Debug, Serialize)]
pub(crate) struct Section<'a, T> {
    /// `live`, `upcoming` or `ended`.
    pub(crate) key: &'static str,
    pub(crate) heading: &'static str,
    /// The drops the index shows, in the section's order.
    pub(crate) drops: Vec<&'a T>,
    /// How many drops the phase has in all.
    pub(crate) total: usize,
    /// The first archive page, root-relative; empty when the index shows them all.
    pub(crate) more_url: String,
}

/// One page of an archive: `archive` in `archive.html`.
#[derive(Debug, Serialize)]
pub(crate) struct ArchivePage<'a, T> {
    pub(crate) key: &'static str,
    pub(crate) heading: &'static str,
    pub(crate) drops: Vec<&'a T>,
    /// 1-based.
    pub(crate) number: usize,
    pub(crate) pages: usize,
    pub(crate) total: usize,
    /// Root-relative: `/drops/ended/`, `/drops/ended/2/`.
    pub(crate) url: String,
    /// Empty on the first page.
    pub(crate) previous_url: String,
    /// Empty on the last page.
    pub(crate) next_url: String,
}

impl<T> ArchivePage<'_, T> {
    /// Where the page is written, relative to the upload root.
    pub(crate) fn path(&self) -> String {
        format!("{}index.html", self.url.trim_start_matches('/'))
    }
}

/// The index's sections (only those with drops) and every archive page.
#[derive(Debug)]
pub(crate) struct Listing<'a, T> {
    pub(crate) sections: Vec<Section<'a, T>>,
    pub(crate) archives: Vec<ArchivePage<'a, T>>,
}

/// Groups the drops (each with its timing) by phase at `now`.
pub(crate) fn plan<'a, T>(drops: &[(Timing<'_>, &'a T)], now: OffsetDateTime) -> Listing<'a, T> {
    let mut listing = Listing { sections: Vec::new(), archives: Vec::new() };
    for phase in [Phase::Live, Phase::Upcoming, Phase::Ended] {
        let mut members: Vec<&(Timing<'_>, &T)> =
            drops.iter().filter(|(timing, _)| Phase::of(timing, now) == phase).collect();
        if members.is_empty() {
            continue;
        }
        // The next to end first while live (then those without an end), the next to start
        // first while upcoming, the last to end first once ended; slugs break ties.
        members.sort_by(|(a, _), (b, _)| {
            let by_time = match phase {
                Phase::Live => (a.ends_at.is_none(), a.ends_at).cmp(&(b.ends_at.is_none(), b.ends_at)),
                Phase::Upcoming => a.starts_at.cmp(&b.starts_at),
                Phase::Ended => b.ends_at.cmp(&a.ends_at),
            };
            by_time.then_with(|| a.slug.cmp(b.slug))
        });
        let members: Vec<&T> = members.into_iter().map(|(_, drop)| *drop).collect();
        let shown = members.len().min(phase.on_index());
        let paged = members.len() > shown;
        listing.sections.push(Section {
            key: phase.key(),
            heading: phase.heading(),
            drops: members[..shown].to_vec(),
            total: members.len(),
            more_url: if paged { archive_url(phase, 1) } else { String::new() },
        });
        if paged {
            listing.archives.extend(archive(phase, &members));
        }
    }
    listing
}

/// Every page of a phase's archive: all its drops, [`PAGE_SIZE`] a page.
fn archive<'a, T>(phase: Phase, members: &[&'a T]) -> Vec<ArchivePage<'a, T>> {
    let pages = members.len().div_ceil(PAGE_SIZE);
    members
        .chunks(PAGE_SIZE)
        .enumerate()
        .map(|(index, drops)| {
            let number = index + 1;
            ArchivePage {
                key: phase.key(),
                heading: phase.heading(),
                drops: drops.to_vec(),
                number,
                pages,
                total: members.len(),
                url: archive_url(phase, number),
                previous_url: if number > 1 { archive_url(phase, number - 1) } else { String::new() },
                next_url: if number < pages { archive_url(phase, number + 1) } else { String::new() },
            }
        })
        .collect()
}

fn archive_url(phase: Phase, number: usize) -> String {
    let folder = crate::model::ARCHIVE_FOLDER;
    if number == 1 {
        format!("/{folder}/{}/", phase.key())
    } else {
        format!("/{folder}/{}/{number}/", phase.key())
    }
}

#[cfg(test)]
mod tests;
