use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-12-10 12:00 UTC);

/// A drop named `slug` opening `starts` hours from NOW and closing `ends` hours from NOW.
fn timing(slug: &'static str, starts: i64, ends: Option<i64>) -> Timing<'static> {
    Timing {
        slug,
        starts_at: NOW + time::Duration::hours(starts),
        ends_at: ends.map(|hours| NOW + time::Duration::hours(hours)),
    }
}

fn listing<'a>(drops: &'a [(Timing<'static>, &'a &'static str)]) -> Listing<'a, &'static str> {
    plan(drops, NOW)
}

fn slugs(drops: &[&&'static str]) -> Vec<&'static str> {
    drops.iter().map(|slug| **slug).collect()
}

#[test]
fn live_first_then_upcoming_in_start_order_then_ended_newest_first() {
    // Written newest first by start, as the model orders drops: the 18th before the 10th.
    let names = ["dec-18", "dec-10", "open-ended", "ends-soon", "ended-long-ago", "ended-yesterday"];
    let drops = [
        (timing("dec-18", 8 * 24, None), &names[0]),
        (timing("dec-10", 2, Some(5)), &names[1]),
        (timing("open-ended", -50, None), &names[2]),
        (timing("ends-soon", -1, Some(1)), &names[3]),
        (timing("ended-long-ago", -500, Some(-400)), &names[4]),
        (timing("ended-yesterday", -48, Some(-24)), &names[5]),
    ];
    let listing = listing(&drops);
    let sections: Vec<(&str, &str, Vec<&str>)> = listing
        .sections
        .iter()
        .map(|section| (section.key, section.heading, slugs(&section.drops)))
        .collect();
    assert_eq!(
        sections,
        [
            ("live", "Live now", vec!["ends-soon", "open-ended"]),
            ("upcoming", "Coming up", vec!["dec-10", "dec-18"]),
            ("ended", "Ended", vec!["ended-yesterday", "ended-long-ago"]),
        ]
    );
    assert!(listing.sections.iter().all(|section| section.more_url.is_empty()));
    assert!(listing.archives.is_empty(), "nothing to page");
}

#[test]
fn the_phase_changes_at_the_start_and_at_the_end_exactly() {
    let drop = timing("x", 0, Some(1));
    assert_eq!(Phase::of(&drop, NOW - time::Duration::seconds(1)), Phase::Upcoming);
    assert_eq!(Phase::of(&drop, NOW), Phase::Live);
    assert_eq!(Phase::of(&drop, NOW + time::Duration::hours(1)), Phase::Ended);
}

#[test]
fn empty_phases_have_no_section() {
    let name = "only";
    let drops = [(timing("only", -1, None), &name)];
    let listing = listing(&drops);
    assert_eq!(listing.sections.len(), 1);
    assert_eq!((listing.sections[0].key, listing.sections[0].total), ("live", 1));
}

#[test]
fn past_the_index_s_share_ended_drops_are_paged_and_the_index_stays_the_same_size() {
    let names: Vec<String> = (0..1000).map(|n| format!("drop-{n:04}")).collect();
    let names: Vec<&'static str> = names.into_iter().map(|name| &*Box::leak(name.into_boxed_str())).collect();
    // drop-0000 ended first; drop-0999 last.
    let drops: Vec<(Timing<'static>, &&'static str)> = names
        .iter()
        .enumerate()
        .map(|(n, name)| (timing(name, -2000 + n as i64, Some(-1500 + n as i64)), name))
        .collect();
    let listing = listing(&drops);
    let [ended] = &listing.sections[..] else { panic!("one section: {:?}", listing.sections) };
    assert_eq!(ended.total, 1000);
    assert_eq!(
        slugs(&ended.drops),
        ["drop-0999", "drop-0998", "drop-0997", "drop-0996", "drop-0995", "drop-0994"]
    );
    assert_eq!(ended.more_url, "/drops/ended/");

    let pages = &listing.archives;
    assert_eq!(pages.len(), 1000usize.div_ceil(PAGE_SIZE));
    let all: Vec<&str> = pages.iter().flat_map(|page| slugs(&page.drops)).collect();
    let mut expected: Vec<&str> = names.clone();
    expected.reverse();
    assert_eq!(all, expected, "every ended drop once, newest first");
    assert!(
        pages
            .iter()
            .all(|page| page.drops.len() <= PAGE_SIZE && page.pages == pages.len() && page.total == 1000)
    );
    let links: Vec<(String, &str, &str, String)> = pages
        .iter()
        .map(|page| (page.url.clone(), page.previous_url.as_str(), page.next_url.as_str(), page.path()))
        .take(2)
        .collect();
    assert_eq!(
        links,
        [
            ("/drops/ended/".to_owned(), "", "/drops/ended/2/", "drops/ended/index.html".to_owned()),
            (
                "/drops/ended/2/".to_owned(),
                "/drops/ended/",
                "/drops/ended/3/",
                "drops/ended/2/index.html".to_owned()
            ),
        ]
    );
    let last = pages.last().unwrap();
    assert_eq!((last.next_url.as_str(), last.number), ("", pages.len()));
}

#[test]
fn upcoming_drops_past_the_index_s_share_are_paged_in_start_order() {
    let names: Vec<&'static str> =
        (0..INDEX_UPCOMING + 1).map(|n| &*Box::leak(format!("soon-{n:02}").into_boxed_str())).collect();
    // Listed in reverse start order; the index takes the first twelve to start.
    let drops: Vec<(Timing<'static>, &&'static str)> =
        names.iter().enumerate().rev().map(|(n, name)| (timing(name, 1 + n as i64, None), name)).collect();
    let listing = listing(&drops);
    let upcoming = &listing.sections[0];
    assert_eq!(
        (upcoming.key, upcoming.drops.len(), upcoming.total),
        ("upcoming", INDEX_UPCOMING, INDEX_UPCOMING + 1)
    );
    assert_eq!(*upcoming.drops[0], "soon-00");
    assert_eq!(upcoming.more_url, "/drops/upcoming/");
    assert_eq!(listing.archives.len(), 1);
    assert_eq!(listing.archives[0].drops.len(), INDEX_UPCOMING + 1);
}

#[test]
fn live_drops_past_the_index_s_share_are_paged_the_next_to_end_first() {
    let names: Vec<&'static str> =
        (0..100).map(|n| &*Box::leak(format!("live-{n:03}").into_boxed_str())).collect();
    // live-000 ends last; the ones without an end come after every one with an end.
    let drops: Vec<(Timing<'static>, &&'static str)> = names
        .iter()
        .enumerate()
        .map(|(n, name)| (timing(name, -1, (n < 90).then_some(1000 - n as i64)), name))
        .collect();
    let listing = listing(&drops);
    let live = &listing.sections[0];
    assert_eq!((live.drops.len(), live.total, live.more_url.as_str()), (INDEX_LIVE, 100, "/drops/live/"));
    assert_eq!((*live.drops[0], *live.drops[1]), ("live-089", "live-088"));
    let archived: Vec<&str> = listing.archives.iter().flat_map(|page| slugs(&page.drops)).collect();
    assert_eq!(archived.len(), 100);
    assert_eq!(&archived[90..92], ["live-090", "live-091"], "no end: last, by slug");
    assert!(listing.archives.iter().all(|page| page.url.starts_with("/drops/live/")));
}
