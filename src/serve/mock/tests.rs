use std::sync::{Arc, Barrier, Mutex};

use time::macros::datetime;

use super::*;

const START: OffsetDateTime = datetime!(2026-11-20 15:00 UTC);

fn seed(units: u32, limit: Option<u32>) -> Seed {
    let mut skus = BTreeMap::new();
    skus.insert("A".to_owned(), (units, limit));
    skus.insert("B".to_owned(), (units, None));
    let drop = DropSeed { starts_at: START, ends_at: Some(START + Duration::days(1)), skus };
    BTreeMap::from([("launch".to_owned(), drop)])
}

fn req(sku: &str, quantity: u32) -> HoldRequest {
    HoldRequest { sku: sku.to_owned(), quantity }
}

fn live() -> OffsetDateTime {
    START + Duration::minutes(1)
}

#[test]
fn status_follows_the_schedule_and_forced_states() {
    let mut inventory = Inventory::new(&seed(10, None), MockState::Scheduled);
    assert_eq!(inventory.stock("launch", START - Duration::seconds(1)).unwrap().status, Status::Upcoming);
    assert_eq!(inventory.stock("launch", START).unwrap().status, Status::Live);
    assert_eq!(inventory.stock("launch", START + Duration::days(1)).unwrap().status, Status::Ended);
    inventory.set_state(MockState::Upcoming);
    assert_eq!(inventory.stock("launch", live()).unwrap().status, Status::Upcoming);
    assert_eq!(inventory.stock("nope", live()), Err(Refusal::UnknownDrop));
}

#[test]
fn a_paused_drop_shows_stock_and_refuses_holds_as_not_live() {
    let mut inventory = Inventory::new(&seed(10, None), MockState::Paused);
    let stock = inventory.stock("launch", live()).unwrap();
    assert_eq!(stock.status, Status::Paused);
    assert_eq!(stock.items[0].available, 10);
    assert_eq!(inventory.hold("launch", "c1", "k1", req("A", 1), live()), Err(Refusal::NotLive));
    inventory.set_state(MockState::Scheduled);
    assert!(inventory.hold("launch", "c1", "k2", req("A", 1), live()).is_ok());
}

#[test]
fn stock_states_are_in_stock_low_and_sold_out() {
    let mut inventory = Inventory::new(&seed(10, None), MockState::Scheduled);
    let states = |inventory: &mut Inventory| {
        inventory
            .stock("launch", live())
            .unwrap()
            .items
            .iter()
            .map(|i| (i.state, i.available))
            .collect::<Vec<_>>()
    };
    assert_eq!(states(&mut inventory), [("in_stock", 10), ("in_stock", 10)]);
    inventory.set_state(MockState::Low);
    assert_eq!(states(&mut inventory), [("low", 3), ("low", 3)]);
    inventory.set_state(MockState::SoldOut);
    assert_eq!(states(&mut inventory), [("sold_out", 0), ("sold_out", 0)]);
}

#[test]
fn holds_decrement_stock_and_refuse_when_sold_out() {
    let mut inventory = Inventory::new(&seed(2, None), MockState::Scheduled);
    let first = inventory.hold("launch", "c1", "k1", req("A", 2), live()).unwrap();
    assert_eq!(first.hold_id, "h_1");
    assert!(first.checkout_url.contains("hold=h_1&token="), "{}", first.checkout_url);
    assert_eq!(first.expires_at, "2026-11-20T15:11:00Z");
    assert_eq!(inventory.stock("launch", live()).unwrap().items[0].state, "sold_out");
    assert_eq!(inventory.hold("launch", "c2", "k2", req("A", 1), live()), Err(Refusal::SoldOut));
}

#[test]
fn refuses_holds_before_start_and_after_end() {
    let mut inventory = Inventory::new(&seed(5, None), MockState::Scheduled);
    assert_eq!(
        inventory.hold("launch", "c", "k1", req("A", 1), START - Duration::seconds(1)),
        Err(Refusal::NotLive)
    );
    assert_eq!(
        inventory.hold("launch", "c", "k2", req("A", 1), START + Duration::days(2)),
        Err(Refusal::NotLive)
    );
    assert_eq!(inventory.hold("launch", "c", "k3", req("Z", 1), live()), Err(Refusal::UnknownSku));
    assert_eq!(inventory.hold("launch", "c", "", req("A", 1), live()), Err(Refusal::InvalidRequest));
    assert_eq!(inventory.hold("launch", "c", "k4", req("A", 0), live()), Err(Refusal::InvalidRequest));
}

#[test]
fn enforces_the_per_customer_limit_across_holds() {
    let mut inventory = Inventory::new(&seed(10, Some(2)), MockState::Scheduled);
    inventory.hold("launch", "c1", "k1", req("A", 1), live()).unwrap();
    inventory.hold("launch", "c1", "k2", req("A", 1), live()).unwrap();
    assert_eq!(inventory.hold("launch", "c1", "k3", req("A", 1), live()), Err(Refusal::LimitReached));
    // Another customer, and another SKU without a limit, are not affected.
    inventory.hold("launch", "c2", "k5", req("A", 2), live()).unwrap();
    inventory.hold("launch", "c1", "k4", req("B", 5), live()).unwrap();
}

/// A retry whose first response was lost comes without the customer cookie: the key alone
/// must still find the first hold.
#[test]
fn a_retry_from_a_new_cookie_replays_the_same_hold() {
    let mut inventory = Inventory::new(&seed(10, Some(1)), MockState::Scheduled);
    let first = inventory.hold("launch", "c1", "k1", req("A", 1), live()).unwrap();
    let retry = inventory.hold("launch", "c2", "k1", req("A", 1), live()).unwrap();
    assert_eq!(first, retry);
    assert_eq!(inventory.holds().count(), 1);
}

#[test]
fn same_idempotency_key_replays_the_first_answer() {
    let mut inventory = Inventory::new(&seed(10, Some(1)), MockState::Scheduled);
    let first = inventory.hold("launch", "c1", "k1", req("A", 1), live()).unwrap();
    let again = inventory.hold("launch", "c1", "k1", req("A", 1), live()).unwrap();
    assert_eq!(first, again);
    assert_eq!(inventory.holds().count(), 1);
    assert_eq!(inventory.stock("launch", live()).unwrap().items[0].available, 9);
    assert_eq!(inventory.hold("launch", "c1", "k1", req("B", 1), live()), Err(Refusal::IdempotencyConflict));
    // Refusals are replayed too: a retried click does not turn into a second attempt.
    assert_eq!(inventory.hold("launch", "c1", "k2", req("A", 1), live()), Err(Refusal::LimitReached));
    assert_eq!(inventory.hold("launch", "c1", "k2", req("A", 1), live()), Err(Refusal::LimitReached));
}

#[test]
fn expired_holds_return_their_units_and_allowance() {
    let mut inventory = Inventory::new(&seed(1, Some(1)), MockState::Scheduled);
    inventory.hold("launch", "c1", "k1", req("A", 1), live()).unwrap();
    let later = live() + HOLD_TTL;
    assert_eq!(inventory.stock("launch", later - Duration::seconds(1)).unwrap().items[0].available, 0);
    assert_eq!(inventory.stock("launch", later).unwrap().items[0].available, 1);
    assert_eq!(inventory.holds().count(), 0);
    inventory.hold("launch", "c1", "k2", req("A", 1), later).unwrap();
}

#[test]
fn reseed_keeps_stock_of_known_skus() {
    let mut inventory = Inventory::new(&seed(10, None), MockState::Scheduled);
    inventory.hold("launch", "c1", "k1", req("A", 4), live()).unwrap();
    let mut next = seed(10, None);
    next.get_mut("launch").unwrap().skus.insert("C".to_owned(), (7, None));
    inventory.reseed(&next);
    let items = inventory.stock("launch", live()).unwrap().items;
    let available: Vec<(&str, u32)> = items.iter().map(|i| (i.sku.as_str(), i.available)).collect();
    assert_eq!(available, [("A", 6), ("B", 10), ("C", 7)]);
}

/// Many threads race for few units through the same mutex the server uses: the total held
/// never exceeds the stock, and no customer holds more than the limit.
#[test]
fn concurrent_holds_never_oversell_nor_exceed_a_customer_limit() {
    // Fewer units (20) than the customers may hold together (8 × 3 = 24), so both the stock
    // and the limits are contested.
    const UNITS: u32 = 20;
    const LIMIT: u32 = 3;
    const CUSTOMERS: usize = 8;
    const ATTEMPTS: usize = 10;
    let inventory = Arc::new(Mutex::new(Inventory::new(&seed(UNITS, Some(LIMIT)), MockState::Scheduled)));
    let barrier = Arc::new(Barrier::new(CUSTOMERS * 2));
    let threads: Vec<_> = (0..CUSTOMERS * 2)
        .map(|thread| {
            let inventory = Arc::clone(&inventory);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                // Two threads per customer, like two tabs.
                let customer = format!("c{}", thread % CUSTOMERS);
                barrier.wait();
                let mut granted = 0;
                for attempt in 0..ATTEMPTS {
                    let key = format!("t{thread}-{attempt}");
                    let quantity = 1 + (attempt as u32 % 2);
                    let result =
                        inventory.lock().unwrap().hold("launch", &customer, &key, req("A", quantity), live());
                    match result {
                        Ok(_) => granted += quantity,
                        Err(Refusal::SoldOut | Refusal::LimitReached) => {}
                        Err(other) => panic!("unexpected refusal {other:?}"),
                    }
                }
                granted
            })
        })
        .collect();
    let granted: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let inventory = inventory.lock().unwrap();
    let held: u32 = inventory.holds().map(|h| h.quantity).sum();
    assert_eq!(granted, held);
    assert!(held <= UNITS, "oversold: {held} > {UNITS}");
    assert_eq!(held, UNITS, "demand exceeds stock, so all of it is held");
    for customer in 0..CUSTOMERS {
        let name = format!("c{customer}");
        let mine: u32 = inventory.holds().filter(|h| h.customer == name).map(|h| h.quantity).sum();
        assert!(mine <= LIMIT, "{name} holds {mine}");
    }
    let mut inventory = inventory.clone();
    let available = inventory.stock("launch", live()).unwrap().items[0].available;
    assert_eq!(available + held, UNITS);
}

#[test]
fn concurrent_holds_on_scarce_stock_sell_exactly_the_stock() {
    let inventory = Arc::new(Mutex::new(Inventory::new(&seed(5, None), MockState::Scheduled)));
    let threads: Vec<_> = (0..16)
        .map(|n| {
            let inventory = Arc::clone(&inventory);
            std::thread::spawn(move || {
                inventory
                    .lock()
                    .unwrap()
                    .hold("launch", &format!("c{n}"), &format!("k{n}"), req("A", 1), live())
                    .is_ok()
            })
        })
        .collect();
    let sold = threads.into_iter().map(|t| t.join().unwrap()).filter(|ok| *ok).count();
    assert_eq!(sold, 5);
}
