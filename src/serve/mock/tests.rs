//! What the mock adds to the inventory service's machine (whose own tests are in
//! `inventory/machine/tests.rs`): seeding, forced states and reseeding after a rebuild.

use time::macros::datetime;

use super::*;
use crate::inventory::catalog::{CatalogDrop, CatalogSku};

const START: OffsetDateTime = datetime!(2026-11-20 15:00 UTC);

fn catalog(units: u32) -> Catalog {
    let sku = |stock| CatalogSku {
        stock: Some(stock),
        limit_per_customer: Some(2),
        checkout_url: "http://127.0.0.1:8000/_dropgen/checkout".to_owned(),
    };
    let skus = BTreeMap::from([("A".to_owned(), sku(units)), ("B".to_owned(), sku(units))]);
    let drop = CatalogDrop { starts_at: START, ends_at: Some(START + Duration::days(1)), skus };
    Catalog { version: 1, drops: BTreeMap::from([("launch".to_owned(), drop)]) }
}

fn live() -> OffsetDateTime {
    START + Duration::minutes(1)
}

fn available(mock: &mut MockInventory, now: OffsetDateTime) -> Vec<(&'static str, u32)> {
    mock.stock("launch", now).unwrap().items.iter().map(|item| (item.state, item.available)).collect()
}

#[test]
fn every_forced_state_shows_as_the_pages_expect() {
    use crate::inventory::machine::Status;
    let mut mock = MockInventory::new(&catalog(10), MockState::Scheduled, live());
    let status = |mock: &mut MockInventory, now| mock.stock("launch", now).unwrap().status;
    assert_eq!(status(&mut mock, START - Duration::hours(1)), Status::Upcoming);
    assert_eq!(status(&mut mock, live()), Status::Live);
    for (state, expected) in [
        (MockState::Upcoming, Status::Upcoming),
        (MockState::Live, Status::Live),
        (MockState::Paused, Status::Paused),
        (MockState::Ended, Status::Ended),
        (MockState::Scheduled, Status::Live),
    ] {
        mock.set_state(state, live());
        assert_eq!((mock.state(), status(&mut mock, live())), (state, expected));
    }
    mock.set_state(MockState::Live, START - Duration::hours(1));
    assert_eq!(status(&mut mock, START - Duration::hours(1)), Status::Live, "live before the start");
}

#[test]
fn low_and_sold_out_leave_three_and_no_units_whatever_is_held() {
    let mut mock = MockInventory::new(&catalog(10), MockState::Scheduled, live());
    mock.hold("launch", "c1", "k1", ("A", 2), live()).unwrap();
    mock.set_state(MockState::Low, live());
    assert_eq!(available(&mut mock, live()), [("low", 3), ("low", 3)]);
    mock.set_state(MockState::SoldOut, live());
    assert_eq!(available(&mut mock, live()), [("sold_out", 0), ("sold_out", 0)]);
    assert_eq!(mock.hold("launch", "c2", "k2", ("B", 1), live()), Err(Refusal::SoldOut));
    assert_eq!(mock.holds().len(), 1, "the hold made before stays");
}

#[test]
fn a_paused_drop_refuses_holds_and_a_retry_from_a_new_cookie_replays_the_hold() {
    let mut mock = MockInventory::new(&catalog(10), MockState::Paused, live());
    assert_eq!(mock.hold("launch", "c1", "k1", ("A", 1), live()), Err(Refusal::NotLive));
    mock.set_state(MockState::Scheduled, live());
    let first = mock.hold("launch", "c1", "k2", ("A", 1), live()).unwrap();
    assert_eq!(mock.hold("launch", "c9", "k2", ("A", 1), live()), Ok(first.clone()));
    assert_eq!(mock.holds(), [(first, "k2".to_owned())]);
    assert_eq!(available(&mut mock, live())[0], ("in_stock", 9));
}

#[test]
fn reseed_keeps_the_stock_of_known_skus_and_takes_new_ones() {
    let mut mock = MockInventory::new(&catalog(10), MockState::Scheduled, live());
    mock.hold("launch", "c1", "k1", ("A", 2), live()).unwrap();
    let mut next = catalog(50);
    let new = CatalogSku { stock: Some(7), limit_per_customer: None, checkout_url: "http://x/c".into() };
    next.drops.get_mut("launch").unwrap().skus.insert("C".to_owned(), new);
    mock.reseed(&next, live());
    assert_eq!(available(&mut mock, live()), [("in_stock", 8), ("in_stock", 10), ("in_stock", 7)]);
}

#[test]
fn holds_expire_and_give_their_units_back() {
    let mut mock = MockInventory::new(&catalog(1), MockState::Scheduled, live());
    mock.hold("launch", "c1", "k1", ("A", 1), live()).unwrap();
    assert_eq!(available(&mut mock, live())[0], ("sold_out", 0));
    assert_eq!(available(&mut mock, live() + HOLD_TTL)[0], ("low", 1));
    assert!(mock.holds().is_empty());
}
