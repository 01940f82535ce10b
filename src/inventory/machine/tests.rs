use time::macros::datetime;

use super::*;
use crate::inventory::catalog::CatalogSku;

const START: OffsetDateTime = datetime!(2026-11-20 15:00 UTC);
const TTL: Duration = Duration::minutes(10);

fn catalog(units: u32, limit: Option<u32>) -> Catalog {
    let sku = |stock, limit_per_customer| CatalogSku {
        stock: Some(stock),
        limit_per_customer,
        checkout_url: "https://shop.test/checkout".to_owned(),
    };
    let skus = BTreeMap::from([("A".to_owned(), sku(units, limit)), ("B".to_owned(), sku(units, None))]);
    let drop = CatalogDrop { starts_at: START, ends_at: Some(START + Duration::days(1)), skus };
    Catalog { version: 1, drops: BTreeMap::from([("launch".to_owned(), drop)]) }
}

fn inventory(units: u32, limit: Option<u32>) -> Inventory {
    let mut inventory = Inventory::default();
    let (reply, _) = inventory.execute(&Command::Sync { catalog: catalog(units, limit) }, START, TTL);
    assert!(reply.is_ok());
    inventory
}

fn live() -> OffsetDateTime {
    START + Duration::minutes(1)
}

fn hold(customer: &str, key: &str, sku: &str, quantity: u32) -> Command {
    Command::Hold {
        drop: "launch".into(),
        sku: sku.into(),
        quantity,
        customer: customer.into(),
        key: key.into(),
    }
}

fn held(inventory: &mut Inventory, command: &Command, now: OffsetDateTime) -> Result<HoldView, Refusal> {
    match inventory.execute(command, now, TTL).0? {
        Reply::Held { hold, .. } => Ok(hold),
        other => panic!("not a hold: {other:?}"),
    }
}

fn available(inventory: &Inventory, sku: &str) -> u32 {
    inventory.counts("launch", sku).unwrap().available()
}

#[test]
fn status_follows_the_times_and_the_operator() {
    let mut inventory = inventory(10, None);
    assert_eq!(inventory.stock("launch", START - Duration::seconds(1)).unwrap().status, Status::Upcoming);
    assert_eq!(inventory.stock("launch", START).unwrap().status, Status::Live);
    assert_eq!(inventory.stock("launch", START + Duration::days(1)).unwrap().status, Status::Ended);
    let control = |control| Command::Control { drop: "launch".into(), control };
    inventory.execute(&control(Control::Open), START - Duration::hours(1), TTL).0.unwrap();
    assert_eq!(inventory.stock("launch", START - Duration::hours(1)).unwrap().status, Status::Live);
    inventory.execute(&control(Control::Paused), live(), TTL).0.unwrap();
    assert_eq!(inventory.stock("launch", live()).unwrap().status, Status::Paused);
    assert_eq!(held(&mut inventory, &hold("c1", "k1", "A", 1), live()), Err(Refusal::NotLive));
    inventory.execute(&control(Control::Scheduled), live(), TTL).0.unwrap();
    assert!(held(&mut inventory, &hold("c1", "k2", "A", 1), live()).is_ok());
    inventory.execute(&control(Control::Ended), live(), TTL).0.unwrap();
    assert_eq!(inventory.stock("launch", live()).unwrap().status, Status::Ended);
    assert_eq!(held(&mut inventory, &hold("c1", "k3", "A", 1), live()), Err(Refusal::NotLive));
    inventory.execute(&control(Control::Delayed), live(), TTL).0.unwrap();
    assert_eq!(inventory.stock("launch", live()).unwrap().status, Status::Upcoming);
    // The end of the drop's times is the end, whatever an operator opened.
    inventory.execute(&control(Control::Open), live(), TTL).0.unwrap();
    assert_eq!(inventory.stock("launch", START + Duration::days(1)).unwrap().status, Status::Ended);
    assert_eq!(inventory.stock("nope", live()), Err(Refusal::UnknownDrop));
}

#[test]
fn a_hold_takes_units_and_never_more_than_there_are() {
    let mut inventory = inventory(3, None);
    assert!(held(&mut inventory, &hold("c1", "k1", "A", 2), live()).is_ok());
    assert_eq!(available(&inventory, "A"), 1);
    assert_eq!(held(&mut inventory, &hold("c2", "k2", "A", 2), live()), Err(Refusal::SoldOut));
    assert!(held(&mut inventory, &hold("c2", "k3", "A", 1), live()).is_ok());
    assert_eq!(held(&mut inventory, &hold("c3", "k4", "A", 1), live()), Err(Refusal::SoldOut));
    assert_eq!(inventory.stock("launch", live()).unwrap().items[0].state, "sold_out");
    assert_eq!(available(&inventory, "B"), 3, "another SKU is untouched");
}

#[test]
fn the_same_key_replays_the_first_hold_and_another_body_conflicts() {
    let mut inventory = inventory(10, None);
    let first = held(&mut inventory, &hold("c1", "k1", "A", 1), live()).unwrap();
    // A retry whose cookie was lost arrives as another customer: the same hold all the same.
    let (reply, events) = inventory.execute(&hold("c9", "k1", "A", 1), live(), TTL);
    assert_eq!(reply, Ok(Reply::Held { hold: first, replayed: true }));
    assert!(events.is_empty());
    assert_eq!(available(&inventory, "A"), 9);
    assert_eq!(held(&mut inventory, &hold("c1", "k1", "A", 2), live()), Err(Refusal::IdempotencyConflict));
    assert_eq!(held(&mut inventory, &hold("c1", "k1", "B", 1), live()), Err(Refusal::IdempotencyConflict));
}

#[test]
fn bad_keys_and_quantities_are_invalid_requests_that_change_nothing() {
    let mut inventory = inventory(10, None);
    let before = inventory.clone();
    for command in [
        hold("c1", "", "A", 1),
        hold("c1", &"k".repeat(256), "A", 1),
        hold("c1", "two words", "A", 1),
        hold("c1", "k\n", "A", 1),
        hold("c1", "k", "A", 0),
        hold("c1", "k", "A", MAX_QUANTITY + 1),
    ] {
        assert_eq!(inventory.execute(&command, live(), TTL), (Err(Refusal::InvalidRequest), Vec::new()));
    }
    assert_eq!(held(&mut inventory, &hold("c1", "k", "Z", 1), live()), Err(Refusal::UnknownSku));
    let unknown_drop = Command::Hold {
        drop: "nope".into(),
        sku: "A".into(),
        quantity: 1,
        customer: "c".into(),
        key: "k".into(),
    };
    assert_eq!(inventory.execute(&unknown_drop, live(), TTL).0, Err(Refusal::UnknownDrop));
    assert_eq!(inventory, before);
}

#[test]
fn the_limit_counts_held_and_bought_units_and_expiry_gives_them_back() {
    let mut inventory = inventory(10, Some(2));
    let first = held(&mut inventory, &hold("c1", "k1", "A", 1), live()).unwrap();
    held(&mut inventory, &hold("c1", "k2", "A", 1), live()).unwrap();
    assert_eq!(held(&mut inventory, &hold("c1", "k3", "A", 1), live()), Err(Refusal::LimitReached));
    assert!(held(&mut inventory, &hold("c2", "k4", "A", 2), live()).is_ok(), "limits are per customer");
    assert!(held(&mut inventory, &hold("c1", "k5", "B", 5), live()).is_ok(), "and per SKU");
    let confirm = Command::Confirm { hold: first.hold_id.clone(), token_id: first.hold_id, key: "p1".into() };
    inventory.execute(&confirm, live(), TTL).0.unwrap();
    // The sold unit still counts; the held one comes back when it expires.
    let later = live() + TTL;
    let expected = held_at(&inventory, later);
    assert_eq!(held(&mut inventory, &hold("c1", "k6", "A", 1), later), Ok(expected));
    assert_eq!(inventory.taken("launch", "c1", "A"), 2);
    assert_eq!(held(&mut inventory, &hold("c1", "k7", "A", 1), later), Err(Refusal::LimitReached));
}

/// The hold the next `k6` request at `now` makes (id and times follow from the state).
fn held_at(inventory: &Inventory, now: OffsetDateTime) -> HoldView {
    HoldView {
        hold_id: format!("h_launch_{}", inventory.drops["launch"].holds_made + 1),
        drop: "launch".into(),
        sku: "A".into(),
        quantity: 1,
        customer: "c1".into(),
        state: HoldState::Active,
        created_at: now,
        expires_at: now + TTL,
    }
}

#[test]
fn an_expired_hold_returns_its_units_and_cannot_be_confirmed() {
    let mut inventory = inventory(1, None);
    let hold_view = held(&mut inventory, &hold("c1", "k1", "A", 1), live()).unwrap();
    let id = hold_view.hold_id.clone();
    assert_eq!(available(&inventory, "A"), 0);
    let at_expiry = hold_view.expires_at;
    let expired = inventory.expire(at_expiry);
    assert_eq!(expired, vec![Event::HoldExpired { at: at_expiry, drop: "launch".into(), hold: id.clone() }]);
    assert_eq!(available(&inventory, "A"), 1);
    let confirm = Command::Confirm { hold: id.clone(), token_id: id.clone(), key: "p".into() };
    assert_eq!(inventory.execute(&confirm, at_expiry, TTL).0, Err(Refusal::HoldExpired));
    assert_eq!(inventory.hold(&id).unwrap().state, HoldState::Expired);
}

#[test]
fn a_confirm_racing_the_expiry_ends_in_exactly_one_state() {
    for offset in [-1, 0, 1] {
        let mut inventory = inventory(1, None);
        let hold_view = held(&mut inventory, &hold("c1", "k1", "A", 1), live()).unwrap();
        let at = hold_view.expires_at + Duration::milliseconds(offset);
        let id = hold_view.hold_id;
        let confirm = Command::Confirm { hold: id.clone(), token_id: id.clone(), key: "p".into() };
        let (reply, _) = inventory.execute(&confirm, at, TTL);
        let counts = inventory.counts("launch", "A").unwrap().clone();
        match inventory.hold(&id).unwrap().state {
            HoldState::Confirmed => {
                assert!(reply.is_ok() && offset < 0);
                assert_eq!((counts.held, counts.sold, counts.available()), (0, 1, 0));
            }
            HoldState::Expired => {
                assert_eq!(reply, Err(Refusal::HoldExpired));
                assert_eq!((counts.held, counts.sold, counts.available()), (0, 0, 1));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_token_works_once_but_the_same_confirm_retried_gets_its_answer() {
    let mut inventory = inventory(5, None);
    let id = held(&mut inventory, &hold("c1", "k1", "A", 1), live()).unwrap().hold_id;
    let confirm = |key: &str| Command::Confirm { hold: id.clone(), token_id: id.clone(), key: key.into() };
    let first = inventory.execute(&confirm("p1"), live(), TTL).0.unwrap();
    let (again, events) = inventory.execute(&confirm("p1"), live(), TTL);
    assert_eq!((again, events), (Ok(first), Vec::new()));
    assert_eq!(inventory.execute(&confirm("p2"), live(), TTL).0, Err(Refusal::HoldConfirmed));
    let wrong_token = Command::Confirm { hold: id.clone(), token_id: "h_launch_99".into(), key: "p3".into() };
    assert_eq!(inventory.execute(&wrong_token, live(), TTL).0, Err(Refusal::UnknownHold));
    assert_eq!(inventory.counts("launch", "A").unwrap().sold, 1);
}

#[test]
fn release_gives_units_back_once_and_a_released_hold_cannot_be_confirmed() {
    let mut inventory = inventory(5, Some(1));
    let id = held(&mut inventory, &hold("c1", "k1", "A", 1), live()).unwrap().hold_id;
    let release = Command::Release { hold: id.clone() };
    inventory.execute(&release, live(), TTL).0.unwrap();
    let (again, events) = inventory.execute(&release, live(), TTL);
    assert!(again.is_ok() && events.is_empty());
    assert_eq!(available(&inventory, "A"), 5);
    let confirm = Command::Confirm { hold: id.clone(), token_id: id, key: "p".into() };
    assert_eq!(inventory.execute(&confirm, live(), TTL).0, Err(Refusal::HoldReleased));
    assert!(held(&mut inventory, &hold("c1", "k2", "A", 1), live()).is_ok(), "the allowance came back");
}

#[test]
fn a_sync_keeps_what_is_sold_and_held_and_warns_below_it() {
    let mut inventory = inventory(10, None);
    let id = held(&mut inventory, &hold("c1", "k1", "A", 3), live()).unwrap().hold_id;
    held(&mut inventory, &hold("c2", "k2", "A", 2), live()).unwrap();
    let confirm = Command::Confirm { hold: id.clone(), token_id: id, key: "p".into() };
    inventory.execute(&confirm, live(), TTL).0.unwrap();
    let (reply, _) = inventory.execute(&Command::Sync { catalog: catalog(20, None) }, live(), TTL);
    assert_eq!(reply, Ok(Reply::Done { warnings: Vec::new() }));
    let counts = inventory.counts("launch", "A").unwrap();
    assert_eq!((counts.stock, counts.held, counts.sold, counts.available()), (20, 2, 3, 15));
    let (reply, _) = inventory.execute(&Command::Sync { catalog: catalog(4, None) }, live(), TTL);
    let Ok(Reply::Done { warnings }) = reply else { panic!() };
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("below the 5 units"), "{}", warnings[0]);
    assert_eq!(available(&inventory, "A"), 0);
    // Syncing the same catalog again records nothing.
    let (_, events) = inventory.execute(&Command::Sync { catalog: catalog(4, None) }, live(), TTL);
    assert!(events.is_empty());
}

#[test]
fn set_stock_changes_the_total_and_warns_below_what_is_out() {
    let mut inventory = inventory(10, None);
    held(&mut inventory, &hold("c1", "k1", "A", 4), live()).unwrap();
    let set = |stock| Command::SetStock { drop: "launch".into(), sku: "A".into(), stock };
    let (reply, _) = inventory.execute(&set(2), live(), TTL);
    let Ok(Reply::Done { warnings }) = reply else { panic!() };
    assert_eq!(warnings.len(), 1);
    assert_eq!(available(&inventory, "A"), 0);
    inventory.execute(&set(14), live(), TTL).0.unwrap();
    assert_eq!(available(&inventory, "A"), 10);
    let unknown = Command::SetStock { drop: "launch".into(), sku: "Z".into(), stock: 1 };
    assert_eq!(inventory.execute(&unknown, live(), TTL).0, Err(Refusal::UnknownSku));
}

#[test]
fn folding_the_events_gives_back_the_same_state() {
    let mut inventory = inventory(6, Some(3));
    let mut log = Vec::new();
    let mut run = |inventory: &mut Inventory, command: Command, now| {
        let (_, events) = inventory.execute(&command, now, TTL);
        log.extend(events);
    };
    // The catalog's own events first, as a store writes them.
    let mut replayed = Inventory::default();
    let (_, sync_events) = replayed.execute(&Command::Sync { catalog: catalog(6, Some(3)) }, START, TTL);
    run(&mut inventory, hold("c1", "k1", "A", 2), live());
    run(&mut inventory, hold("c2", "k2", "A", 3), live());
    run(&mut inventory, hold("c3", "k3", "B", 1), live());
    run(
        &mut inventory,
        Command::Confirm { hold: "h_launch_1".into(), token_id: "h_launch_1".into(), key: "p".into() },
        live(),
    );
    run(&mut inventory, Command::Release { hold: "h_launch_3".into() }, live());
    run(&mut inventory, Command::Control { drop: "launch".into(), control: Control::Paused }, live());
    run(&mut inventory, Command::SetStock { drop: "launch".into(), sku: "B".into(), stock: 9 }, live());
    inventory.expire(live() + TTL);
    log.extend(inventory.due(live() + TTL));
    let mut folded = Inventory::default();
    for event in sync_events.iter().chain(&log) {
        folded.apply(event);
    }
    folded.expire(live() + TTL);
    assert_eq!(folded, inventory);
    // And the events survive their own serialisation.
    for event in &log {
        let json = serde_json::to_string(event).unwrap();
        assert_eq!(&serde_json::from_str::<Event>(&json).unwrap(), event, "{json}");
    }
}

#[test]
fn hold_ids_name_their_drop() {
    assert_eq!(split_hold_id("h_launch_12"), Some(("launch", 12)));
    assert_eq!(split_hold_id("h_spring_sale-2_3"), Some(("spring_sale-2", 3)));
    for bad in ["h_12", "h__1", "launch_1", "h_launch_", "h_launch_+1", "h_launch_x", ""] {
        assert_eq!(split_hold_id(bad), None, "{bad}");
    }
}
