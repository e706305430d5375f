//! The rules every journal keeps (claims, leases, due times, history, accounts, purges;
//! the passes over the whole shop and the offers they write; the events channels push),
//! one suite run over the memory journal, SQLite and PostgreSQL: each backend is a
//! [`Subject`] handing out new, empty journals, two handles on each (two runners; two
//! processes where the backend has them).

use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use commerce_core::{Order, SubmissionReceipt};
use commerce_facade::{
    EventRecord, Journal, JournalError, OfferRecord, OrderRecord, PassState, SentStock, Step,
};

/// Two handles on one journal (two runners).
pub type Handles = (Arc<dyn Journal>, Arc<dyn Journal>);

/// Writes what no release reads into the stored record of the offer `(channel, offer id)`
/// of the journal given, behind its back.
pub type SpoilOffer = Box<dyn Fn(&dyn Journal, &str, &str) + Send + Sync>;

/// A journal backend under test.
pub struct Subject {
    /// Its name, in failure messages.
    pub name: &'static str,
    /// A new, empty journal: two handles on it.
    pub fresh: Box<dyn Fn() -> Handles + Send + Sync>,
    /// Writes what no release reads into the stored record of the offer `(channel, offer
    /// id)` of the journal given (a record edited by hand, cut short), behind the journal's
    /// back; `None` where a backend keeps no text to spoil (memory).
    pub spoil_offer: Option<SpoilOffer>,
}

/// Every rule, each on a journal of its own.
pub async fn conformance(s: &Subject) {
    lease_rules(s).await;
    another_runners_lease(s).await;
    an_expired_lease_is_taken_over(s).await;
    claims_by_rank_then_due(s).await;
    only_open_due_orders_of_the_channels_are_claimed(s).await;
    next_due_says_when(s).await;
    amend_rules(s).await;
    one_account_per_channel(s).await;
    purge_rules(s).await;
    census_and_leases(s).await;
    a_pass_is_claimed_when_free_and_due(s).await;
    only_the_holder_renews_or_ends_a_pass(s).await;
    an_ended_lease_on_a_pass_is_taken_over(s).await;
    one_runner_at_a_time_takes_a_pass(s).await;
    offers_are_written_by_the_pass_holder(s).await;
    an_unreadable_offer_is_left_out(s).await;
    an_event_is_added_once(s).await;
    unhandled_events_come_oldest_first(s).await;
    an_event_is_handled_once(s).await;
    the_purge_takes_handled_events_only(s).await;
    let (a, _) = (s.fresh)();
    super::claims_furthest_along_first(a.as_ref()).await;
}

/// A bol order with no details.
pub fn record(id: &str) -> OrderRecord {
    OrderRecord::new(Order {
        id: id.into(),
        channel: "bol".into(),
        ..Default::default()
    })
}

/// Now, to the microsecond (what every backend keeps).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn bol() -> [String; 1] {
    ["bol".to_owned()]
}

fn submitted() -> Step<SubmissionReceipt> {
    Step::Done(SubmissionReceipt {
        provider: "shopwedo".into(),
        reference: "9".into(),
        already_submitted: false,
    })
}

async fn notes(j: &dyn Journal, key: &str) -> Vec<String> {
    j.history(key)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.note)
        .collect()
}

/// Added once; claimed by one runner; saved, renewed, released; read by the other.
async fn lease_rules(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    let channels = bol();
    let now = now();
    let until = now + Duration::seconds(30);
    assert!(a.add(&record("1")).await.unwrap(), "{name}");
    assert!(!b.add(&record("1")).await.unwrap(), "{name}: added once");
    let mut r = a.claim("a", &channels, now, until).await.unwrap().unwrap();
    assert_eq!(r.key, "bol:1", "{name}");
    assert_eq!(
        b.claim("b", &channels, now, until).await.unwrap(),
        None,
        "{name}: held"
    );
    assert!(
        matches!(
            b.amend("bol:1", "operator", now, &mut |_| Ok(String::new())).await,
            Err(JournalError::Busy { ref runner, .. }) if runner == "a"
        ),
        "{name}"
    );
    r.submission = submitted();
    a.save("a", until, &r, "submitted").await.unwrap();
    a.save("a", until, &r, "").await.unwrap();
    a.renew("bol:1", "a", until + Duration::seconds(5)).await.unwrap();
    let leases = b.leases(now).await.unwrap();
    assert_eq!(leases.len(), 1, "{name}");
    assert_eq!(
        (leases[0].key.as_str(), leases[0].runner.as_str(), leases[0].until),
        ("bol:1", "a", until + Duration::seconds(5)),
        "{name}: renewed"
    );
    assert_eq!(
        b.load("bol:1").await.unwrap().unwrap().submission,
        r.submission,
        "{name}"
    );
    a.release("a", &r, "released").await.unwrap();
    assert_eq!(b.leases(now).await.unwrap(), vec![], "{name}: released");
    assert!(
        matches!(
            a.renew("bol:1", "a", until).await,
            Err(JournalError::LeaseLost { .. })
        ),
        "{name}: a released lease is not renewed"
    );
    let again = b.claim("b", &channels, now, until).await.unwrap().unwrap();
    assert_eq!(again.submission, r.submission, "{name}: b reads what a saved");
    // An empty note adds no line.
    assert_eq!(
        notes(b.as_ref(), "bol:1").await,
        ["seen on its channel", "submitted", "released"],
        "{name}"
    );
    assert!(a.load("bol:3").await.unwrap().is_none(), "{name}");
    assert!(a.history("bol:3").await.unwrap().is_empty(), "{name}");
}

/// What another runner holds is not written, renewed, released or claimed by this one.
async fn another_runners_lease(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    let now = now();
    let until = now + Duration::seconds(30);
    a.add(&record("1")).await.unwrap();
    let mut r = a.claim("a", &bol(), now, until).await.unwrap().unwrap();
    r.attention = Some("b's".into());
    for lost in [
        b.save("b", until, &r, "b's save").await,
        b.renew("bol:1", "b", until).await,
        b.release("b", &r, "b's release").await,
    ] {
        assert!(
            matches!(lost, Err(JournalError::LeaseLost { ref key }) if key == "bol:1"),
            "{name}: {lost:?}"
        );
    }
    // Nor an order nobody holds, nor one not in the journal.
    assert!(matches!(
        b.save("b", until, &record("2"), "").await,
        Err(JournalError::LeaseLost { .. })
    ));
    let kept = a.load("bol:1").await.unwrap().unwrap();
    assert_eq!(kept.attention, None, "{name}: nothing of b's written");
    assert_eq!(
        notes(a.as_ref(), "bol:1").await,
        ["seen on its channel"],
        "{name}"
    );
    assert_eq!(a.leases(now).await.unwrap()[0].runner, "a", "{name}");
}

/// A lease that ended is taken over by the next claim; the runner that had it may no
/// longer write the order.
async fn an_expired_lease_is_taken_over(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    let now = now();
    let until = now + Duration::seconds(30);
    a.add(&record("1")).await.unwrap();
    let mut r = a.claim("a", &bol(), now, until).await.unwrap().unwrap();
    r.submission = submitted();
    a.save("a", until, &r, "submitted").await.unwrap();
    // Not before the lease's end; at its end, yes.
    assert_eq!(
        b.claim(
            "b",
            &bol(),
            until - Duration::seconds(1),
            until + Duration::seconds(30)
        )
        .await
        .unwrap(),
        None,
        "{name}"
    );
    assert_eq!(b.leases(until).await.unwrap(), vec![], "{name}: ended at its end");
    let taken = b
        .claim("b", &bol(), until, until + Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.submission, r.submission, "{name}");
    for lost in [
        a.save("a", until, &r, "late").await,
        a.renew("bol:1", "a", until).await,
        a.release("a", &r, "late").await,
    ] {
        assert!(
            matches!(lost, Err(JournalError::LeaseLost { .. })),
            "{name}: {lost:?}"
        );
    }
    let leases = a.leases(until).await.unwrap();
    assert_eq!(leases.len(), 1, "{name}");
    assert_eq!(leases[0].runner, "b", "{name}");
    b.save("b", until + Duration::seconds(30), &taken, "b's")
        .await
        .unwrap();
}

/// Of the orders due, the furthest along first, then the soonest due (an order with no
/// due time is due at once).
async fn claims_by_rank_then_due(s: &Subject) {
    let name = s.name;
    let (a, _) = (s.fresh)();
    let now = now();
    let until = now + Duration::seconds(30);
    let mut confirm = record("confirm");
    confirm.fulfilment = Some("shopwedo".into());
    confirm.submission = submitted();
    confirm.shipped = Step::Done(commerce_core::Tracking::default());
    confirm.due = Some(now - Duration::minutes(1));
    let mut old = record("old");
    old.due = Some(now - Duration::hours(2));
    let mut older = record("older");
    older.due = Some(now - Duration::hours(3));
    let fresh = record("fresh");
    for r in [&old, &fresh, &confirm, &older] {
        a.add(r).await.unwrap();
    }
    let mut order = Vec::new();
    while let Some(r) = a.claim("a", &bol(), now, until).await.unwrap() {
        order.push(r.key);
    }
    assert_eq!(
        order,
        ["bol:confirm", "bol:fresh", "bol:older", "bol:old"],
        "{name}"
    );
}

/// Only open orders of the channels asked for, and only once due.
async fn only_open_due_orders_of_the_channels_are_claimed(s: &Subject) {
    let name = s.name;
    let (a, _) = (s.fresh)();
    let now = now();
    let until = now + Duration::seconds(30);
    let mut later = record("later");
    later.due = Some(now + Duration::minutes(5));
    let mut done = record("done");
    done.completed_at = Some(now);
    let mut person = record("person");
    person.attention = Some("check".into());
    let mut cancelled = record("cancelled");
    cancelled.cancelled = Some("by the buyer".into());
    let mut elsewhere = record("shop");
    elsewhere.order.channel = "shop".into();
    elsewhere.key = "shop:1".into();
    for r in [&later, &done, &person, &cancelled, &elsewhere] {
        a.add(r).await.unwrap();
    }
    assert_eq!(a.claim("a", &bol(), now, until).await.unwrap(), None, "{name}");
    assert_eq!(
        a.claim("a", &["other".to_owned()], now, until).await.unwrap(),
        None,
        "{name}"
    );
    let at = now + Duration::minutes(5);
    let r = a
        .claim("a", &bol(), at, at + Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(
        r.map(|r| r.key),
        Some("bol:later".to_owned()),
        "{name}: due at its time"
    );
    let r = a
        .claim("a", &["shop".to_owned(), "bol".to_owned()], now, until)
        .await
        .unwrap();
    assert_eq!(r.map(|r| r.key), Some("shop:1".to_owned()), "{name}");
}

/// `next_due`: the soonest open order of the channels; a held one when its lease ends at
/// the earliest; a new one at once; `None` without an open order.
async fn next_due_says_when(s: &Subject) {
    let name = s.name;
    let (a, _) = (s.fresh)();
    let now = now();
    assert_eq!(a.next_due(&bol()).await.unwrap(), None, "{name}: empty");
    let mut done = record("done");
    done.completed_at = Some(now);
    a.add(&done).await.unwrap();
    assert_eq!(a.next_due(&bol()).await.unwrap(), None, "{name}: nothing open");
    let mut later = record("later");
    later.due = Some(now + Duration::minutes(10));
    a.add(&later).await.unwrap();
    assert_eq!(a.next_due(&bol()).await.unwrap(), later.due, "{name}");
    assert_eq!(a.next_due(&["shop".to_owned()]).await.unwrap(), None, "{name}");
    let mut soon = record("soon");
    soon.due = Some(now + Duration::minutes(2));
    a.add(&soon).await.unwrap();
    assert_eq!(a.next_due(&bol()).await.unwrap(), soon.due, "{name}");
    // Held past its due time: due when the lease ends.
    let at = now + Duration::minutes(2);
    let held = a
        .claim("a", &bol(), at, now + Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.key, "bol:soon", "{name}");
    assert_eq!(
        a.next_due(&bol()).await.unwrap(),
        Some(now + Duration::minutes(5)),
        "{name}: at the lease's end"
    );
    // A new order is due at once: before any time.
    a.add(&record("new")).await.unwrap();
    let due = a.next_due(&bol()).await.unwrap().unwrap();
    assert!(due <= now, "{name}: {due}");
}

/// An operator's change: refused for an order held, one not in the journal, or by the
/// change itself (nothing written); otherwise written with its note, due at once, and any
/// ended lease cleared.
async fn amend_rules(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    let now = now();
    let until = now + Duration::seconds(30);
    assert!(
        matches!(
            a.amend("bol:9", "operator", now, &mut |_| Ok("x".into())).await,
            Err(JournalError::NotFound(ref k)) if k == "bol:9"
        ),
        "{name}"
    );
    let mut r = record("1");
    r.due = Some(now + Duration::hours(1));
    a.add(&r).await.unwrap();
    assert!(
        matches!(
            a.amend("bol:1", "operator", now, &mut |r| {
                r.attention = Some("changed".into());
                Err("not like that".into())
            })
            .await,
            Err(JournalError::Refused(ref why)) if why == "not like that"
        ),
        "{name}"
    );
    assert_eq!(
        a.load("bol:1").await.unwrap().unwrap().attention,
        None,
        "{name}: nothing written"
    );
    let amended = b
        .amend("bol:1", "operator", now, &mut |r| {
            r.attention = Some("check it".into());
            Ok("held for a person".into())
        })
        .await
        .unwrap();
    assert_eq!(amended.attention.as_deref(), Some("check it"), "{name}");
    assert_eq!(amended.due, None, "{name}: due at once");
    assert_eq!(a.load("bol:1").await.unwrap().unwrap(), amended, "{name}");
    let history = a.history("bol:1").await.unwrap();
    assert_eq!(
        (history[1].by.as_str(), history[1].note.as_str()),
        ("operator", "held for a person"),
        "{name}"
    );
    // Held, then its lease ended: an operator may change it, and the lease goes.
    a.amend("bol:1", "operator", now, &mut |r| {
        r.attention = None;
        Ok("reopened".into())
    })
    .await
    .unwrap();
    a.claim("a", &bol(), now, until).await.unwrap().unwrap();
    let after = until + Duration::seconds(1);
    b.amend("bol:1", "operator", after, &mut |r| {
        r.attention = Some("again".into());
        Ok("after the lease".into())
    })
    .await
    .unwrap();
    assert_eq!(a.leases(now).await.unwrap(), vec![], "{name}: the lease cleared");
    assert!(matches!(
        a.save("a", after, &r, "late").await,
        Err(JournalError::LeaseLost { .. })
    ));
}

/// One account per channel: the same again is fine, another refused unless replacing.
async fn one_account_per_channel(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    a.bind_account("bol", "client id a", false).await.unwrap();
    b.bind_account("bol", "client id a", false).await.unwrap();
    a.bind_account("shop", "other", false).await.unwrap();
    let refused = b.bind_account("bol", "client id b", false).await;
    assert!(
        matches!(
            &refused,
            Err(JournalError::OtherAccount { channel, recorded, given })
                if channel == "bol" && recorded == "client id a" && given == "client id b"
        ),
        "{name}: {refused:?}"
    );
    b.bind_account("bol", "client id b", true).await.unwrap();
    assert!(
        a.bind_account("bol", "client id a", false).await.is_err(),
        "{name}"
    );
    a.bind_account("bol", "client id b", false).await.unwrap();
}

/// The personal fields of orders completed or cancelled before the cut-off are blanked,
/// once, with a line in their history; the others are kept.
async fn purge_rules(s: &Subject) {
    let name = s.name;
    let (a, _) = (s.fresh)();
    let now = now();
    let long_ago = now - Duration::days(40);
    let with_buyer = |id: &str| {
        let mut r = record(id);
        r.order.customer.email = format!("buyer{id}@example.nl");
        r.order.shipping_address.city = "Utrecht".into();
        r.order.shipping_address.country = "NL".into();
        r
    };
    let mut completed = with_buyer("completed");
    completed.completed_at = Some(long_ago);
    let mut cancelled = with_buyer("cancelled");
    cancelled.cancelled = Some("by an operator".into());
    cancelled.cancelled_at = Some(long_ago);
    let mut recent = with_buyer("recent");
    recent.completed_at = Some(now - Duration::days(1));
    let open = with_buyer("open");
    for r in [&completed, &cancelled, &recent, &open] {
        a.add(r).await.unwrap();
    }
    let cut = now - Duration::days(30);
    assert_eq!(a.purge_personal(cut).await.unwrap(), 2, "{name}");
    assert_eq!(a.purge_personal(cut).await.unwrap(), 0, "{name}: once");
    for key in ["bol:completed", "bol:cancelled"] {
        let r = a.load(key).await.unwrap().unwrap();
        assert_eq!(r.order.customer.email, "", "{name}: {key}");
        assert_eq!(r.order.shipping_address.city, "", "{name}: {key}");
        assert_eq!(r.order.shipping_address.country, "NL", "{name}: {key}");
        assert!(r.purged_at.is_some(), "{name}: {key}");
        assert_eq!(
            notes(a.as_ref(), key).await.last().map(String::as_str),
            Some("personal data purged"),
            "{name}: {key}"
        );
    }
    for key in ["bol:recent", "bol:open"] {
        let r = a.load(key).await.unwrap().unwrap();
        assert!(r.order.customer.email.starts_with("buyer"), "{name}: {key}");
        assert_eq!(r.purged_at, None, "{name}: {key}");
    }
}

/// `census` is `all` (by key) with the unreadable records beside; `leases` are by runner,
/// then by order.
async fn census_and_leases(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    let now = now();
    let until = now + Duration::seconds(30);
    for id in ["3", "1", "2"] {
        a.add(&record(id)).await.unwrap();
    }
    let (records, unreadable) = b.census().await.unwrap();
    let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["bol:1", "bol:2", "bol:3"], "{name}");
    assert!(unreadable.is_empty(), "{name}");
    assert_eq!(b.all().await.unwrap(), records, "{name}");
    assert!(b.unreadable().await.unwrap().is_empty(), "{name}");
    a.claim("z", &bol(), now, until).await.unwrap().unwrap();
    a.claim("y", &bol(), now, until).await.unwrap().unwrap();
    a.claim("y", &bol(), now, until).await.unwrap().unwrap();
    let leases: Vec<(String, String)> = b
        .leases(now)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.runner, l.key))
        .collect();
    // Which order each runner got depends on how the backend breaks ties (insertion
    // order, key): the list is read back and must be sorted by runner, then order.
    let mut sorted = leases.clone();
    sorted.sort();
    assert_eq!(leases, sorted, "{name}: by runner, then by order");
    assert_eq!(leases.len(), 3, "{name}");
    assert_eq!(leases[2].0, "z", "{name}");
}

/// The stock loop's pass, as the suite names it.
const STOCK: &str = "stock";

fn pass_lost(result: &Result<impl std::fmt::Debug, JournalError>, pass: &str) -> bool {
    matches!(result, Err(JournalError::LeaseLost { key }) if *key == format!("pass {pass}"))
}

async fn pass_of(j: &dyn Journal, name: &str) -> PassState {
    j.pass(name).await.unwrap().expect("the pass is kept")
}

/// A pass never run is free and due: claimed, with its start; refused to another runner
/// while held, `force` or not; claimed again by its holder; due at its `next_due` once
/// ended, and before it only with `force`. Each pass is its own.
async fn a_pass_is_claimed_when_free_and_due(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    let now = now();
    let until = now + Duration::minutes(5);
    assert_eq!(a.pass(STOCK).await.unwrap(), None, "{name}: never run");
    assert!(
        a.claim_pass(STOCK, "a", now, until, false).await.unwrap(),
        "{name}: free and due"
    );
    assert_eq!(
        pass_of(b.as_ref(), STOCK).await,
        PassState {
            name: STOCK.into(),
            lease: Some(("a".into(), until)),
            next_due: None,
            last_started: Some(now),
            last_finished: None,
            last_summary: None,
        },
        "{name}"
    );
    for force in [false, true] {
        assert!(
            !b.claim_pass(STOCK, "b", now, until, force).await.unwrap(),
            "{name}: held by a (force {force})"
        );
    }
    // Another pass is another row.
    assert!(
        b.claim_pass("other", "b", now, until, false).await.unwrap(),
        "{name}"
    );
    assert_eq!(pass_of(a.as_ref(), STOCK).await.lease, Some(("a".into(), until)));
    // Its holder may claim it again (a runner that restarted with the same name).
    let later = now + Duration::seconds(10);
    assert!(
        a.claim_pass(STOCK, "a", later, later + Duration::minutes(5), false)
            .await
            .unwrap(),
        "{name}"
    );
    assert_eq!(pass_of(b.as_ref(), STOCK).await.last_started, Some(later));
    let ended = now + Duration::seconds(40);
    let next = now + Duration::minutes(15);
    a.end_pass(STOCK, "a", ended, next, "12 offers, 1 update")
        .await
        .unwrap();
    assert_eq!(
        pass_of(b.as_ref(), STOCK).await,
        PassState {
            name: STOCK.into(),
            lease: None,
            next_due: Some(next),
            last_started: Some(later),
            last_finished: Some(ended),
            last_summary: Some("12 offers, 1 update".into()),
        },
        "{name}: ended"
    );
    // Not due before `next_due`, for anyone, unless forced.
    let early = next - Duration::seconds(1);
    for runner in ["a", "b"] {
        assert!(
            !b.claim_pass(STOCK, runner, early, early + Duration::minutes(5), false)
                .await
                .unwrap(),
            "{name}: not due for {runner}"
        );
    }
    assert_eq!(
        pass_of(a.as_ref(), STOCK).await.lease,
        None,
        "{name}: nothing taken"
    );
    assert!(
        b.claim_pass(STOCK, "b", early, early + Duration::minutes(5), true)
            .await
            .unwrap(),
        "{name}: forced"
    );
    b.end_pass(STOCK, "b", early, next, "forced").await.unwrap();
    assert!(
        a.claim_pass(STOCK, "a", next, next + Duration::minutes(5), false)
            .await
            .unwrap(),
        "{name}: due at its time"
    );
    let p = pass_of(b.as_ref(), STOCK).await;
    assert_eq!(
        (p.lease, p.last_started, p.last_summary.as_deref()),
        (
            Some(("a".into(), next + Duration::minutes(5))),
            Some(next),
            Some("forced")
        ),
        "{name}"
    );
}

/// Only the holder renews or ends a pass; anyone else gets `LeaseLost` and writes nothing,
/// and so does the holder once it ended the pass.
async fn only_the_holder_renews_or_ends_a_pass(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    let now = now();
    let until = now + Duration::minutes(5);
    let later = now + Duration::minutes(15);
    assert!(
        pass_lost(&a.renew_pass(STOCK, "a", until).await, STOCK),
        "{name}: a pass never run"
    );
    assert!(
        pass_lost(&a.end_pass(STOCK, "a", now, later, "x").await, STOCK),
        "{name}: a pass never run"
    );
    assert!(a.claim_pass(STOCK, "a", now, until, false).await.unwrap());
    let held = pass_of(a.as_ref(), STOCK).await;
    assert!(pass_lost(&b.renew_pass(STOCK, "b", later).await, STOCK), "{name}");
    assert!(
        pass_lost(&b.end_pass(STOCK, "b", now, later, "b's").await, STOCK),
        "{name}"
    );
    assert_eq!(
        pass_of(a.as_ref(), STOCK).await,
        held,
        "{name}: nothing of b's written"
    );
    a.renew_pass(STOCK, "a", until + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(
        pass_of(b.as_ref(), STOCK).await.lease,
        Some(("a".into(), until + Duration::minutes(1))),
        "{name}: renewed"
    );
    a.end_pass(STOCK, "a", now, later, "done").await.unwrap();
    let ended = pass_of(b.as_ref(), STOCK).await;
    assert!(
        pass_lost(&a.renew_pass(STOCK, "a", until).await, STOCK),
        "{name}: ended"
    );
    assert!(
        pass_lost(&a.end_pass(STOCK, "a", now, now, "again").await, STOCK),
        "{name}: ended once"
    );
    assert_eq!(pass_of(b.as_ref(), STOCK).await, ended, "{name}: nothing written");
}

/// A lease on a pass that ended (its runner stopped) is taken over at its end, `force` or
/// not, and the runner that had it may no longer renew it, end it or write offers.
async fn an_ended_lease_on_a_pass_is_taken_over(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    let now = now();
    let until = now + Duration::seconds(30);
    assert!(a.claim_pass(STOCK, "a", now, until, false).await.unwrap());
    let before = until - Duration::seconds(1);
    assert!(
        !b.claim_pass(STOCK, "b", before, before + Duration::minutes(5), true)
            .await
            .unwrap(),
        "{name}: not before its end"
    );
    assert!(
        b.claim_pass(STOCK, "b", until, until + Duration::minutes(5), false)
            .await
            .unwrap(),
        "{name}: at its end"
    );
    let taken = pass_of(a.as_ref(), STOCK).await;
    assert_eq!(
        (taken.lease.clone(), taken.last_started),
        (Some(("b".into(), until + Duration::minutes(5))), Some(until)),
        "{name}"
    );
    let mut late = OfferRecord::new("bol", "o-1");
    late.reason = Some("a's".into());
    assert!(
        pass_lost(&a.renew_pass(STOCK, "a", until + Duration::hours(1)).await, STOCK),
        "{name}"
    );
    assert!(
        pass_lost(
            &a.end_pass(STOCK, "a", until, until + Duration::hours(1), "a's")
                .await,
            STOCK
        ),
        "{name}"
    );
    assert!(
        pass_lost(
            &a.save_offers(STOCK, "a", &[(late.clone(), Some("a's".into()))])
                .await,
            STOCK
        ),
        "{name}"
    );
    assert_eq!(pass_of(b.as_ref(), STOCK).await, taken, "{name}: nothing of a's");
    assert!(b.offers().await.unwrap().is_empty(), "{name}: nothing of a's");
    assert!(b.history(&late.key()).await.unwrap().is_empty(), "{name}");
}

/// Two runners claiming one pass at once, again and again: each time exactly one takes it.
async fn one_runner_at_a_time_takes_a_pass(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    for round in 0..20 {
        let now = now();
        let until = now + Duration::minutes(5);
        let claim = |j: &Arc<dyn Journal>, runner: &'static str| {
            let j = j.clone();
            tokio::spawn(async move { j.claim_pass(STOCK, runner, now, until, false).await })
        };
        let (ta, tb) = (claim(&a, "a"), claim(&b, "b"));
        let (got_a, got_b) = (ta.await.unwrap().unwrap(), tb.await.unwrap().unwrap());
        assert!(got_a != got_b, "{name}: round {round}: a {got_a}, b {got_b}");
        let winner = if got_a { "a" } else { "b" };
        let p = pass_of(a.as_ref(), STOCK).await;
        assert_eq!(p.lease, Some((winner.to_owned(), until)), "{name}: round {round}");
        let loser = if got_a { &b } else { &a };
        assert!(pass_lost(&loser.end_pass(STOCK, "x", now, now, "").await, STOCK));
        let holder = if got_a { &a } else { &b };
        holder
            .end_pass(STOCK, winner, now, now, &format!("round {round}"))
            .await
            .unwrap();
    }
}

/// An offer record with every field set, and a field of a newer release.
fn offer(channel: &str, id: &str, at: DateTime<Utc>) -> OfferRecord {
    let mut r = OfferRecord::new(channel, id);
    r.ean = Some("8712345678906".into());
    r.managed_by_shop = Some(true);
    r.seen_amount = Some(8);
    r.seen_corrected = Some(7);
    r.seen_at = Some(at);
    r.sent = Some(SentStock {
        amount: 7,
        managed_by_shop: true,
        at,
        reference: Some("1234567".into()),
    });
    r.computed = Some(7);
    r.reason = Some("stock fell".into());
    r.checked_at = Some(at);
    r.unknown
        .insert("later".into(), serde_json::json!({"x": [1, "two"]}));
    r
}

/// Offers are written only while the writer holds the pass, all of a call or none; read
/// back as written (a newer release's fields too), by channel then offer id (byte order),
/// replaced by channel and offer id; each note a line of the offer's history, by its
/// writer, apart from the orders'.
async fn offers_are_written_by_the_pass_holder(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    let now = now();
    let until = now + Duration::minutes(5);
    assert!(a.offers().await.unwrap().is_empty(), "{name}");
    let one = offer("bol", "b-1", now);
    assert!(
        pass_lost(&a.save_offers(STOCK, "a", &[(one.clone(), None)]).await, STOCK),
        "{name}: a pass never run"
    );
    assert!(a.claim_pass(STOCK, "a", now, until, false).await.unwrap());
    let mut fbb = OfferRecord::new("bol", "B-2");
    fbb.fulfilled_by_channel = true;
    let mut shop = offer("shop", "a-1", now);
    shop.attention = Some("no warehouse lists its EAN".into());
    shop.sent = None;
    let records = vec![
        (
            one.clone(),
            Some("8 → 7 (shopwedo atp 9, not handed over 2)".to_owned()),
        ),
        (fbb.clone(), None),
        (shop.clone(), Some("kept: no warehouse lists its EAN".to_owned())),
        (offer("bol", "a-1", now), None),
        (offer("bol", "10", now), None),
        (offer("bol", "9", now), None),
    ];
    a.save_offers(STOCK, "a", &records).await.unwrap();
    let read = b.offers().await.unwrap();
    let ids: Vec<(&str, &str)> = read
        .iter()
        .map(|r| (r.channel.as_str(), r.offer_id.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("bol", "10"),
            ("bol", "9"),
            ("bol", "B-2"),
            ("bol", "a-1"),
            ("bol", "b-1"),
            ("shop", "a-1")
        ],
        "{name}: by channel, then offer id"
    );
    assert_eq!(read[4], one, "{name}: as written");
    assert_eq!(
        read[4].unknown["later"],
        serde_json::json!({"x": [1, "two"]}),
        "{name}"
    );
    assert_eq!(read[2], fbb, "{name}");
    assert_eq!(read[5], shop, "{name}");
    let history = b.history("offer:bol:b-1").await.unwrap();
    assert_eq!(history.len(), 1, "{name}");
    assert_eq!(
        (history[0].by.as_str(), history[0].note.as_str()),
        ("a", "8 → 7 (shopwedo atp 9, not handed over 2)"),
        "{name}"
    );
    assert!(b.history(&fbb.key()).await.unwrap().is_empty(), "{name}: no note");
    assert_eq!(
        notes(b.as_ref(), "offer:shop:a-1").await,
        ["kept: no warehouse lists its EAN"],
        "{name}"
    );
    assert!(b.all().await.unwrap().is_empty(), "{name}: offers are not orders");
    assert!(b.unreadable().await.unwrap().is_empty(), "{name}");
    // Replaced by channel and offer id, its history growing.
    let mut again = one.clone();
    again.sent = None;
    again.seen_amount = Some(7);
    again.ean = Some("8712345678913".into());
    again.reason = Some("same (7)".into());
    a.save_offers(STOCK, "a", &[(again.clone(), Some("7 → 6".into()))])
        .await
        .unwrap();
    let read = b.offers().await.unwrap();
    assert_eq!(read.len(), 6, "{name}: replaced, not added");
    assert_eq!(read[4], again, "{name}");
    assert_eq!(
        notes(b.as_ref(), &one.key()).await,
        ["8 → 7 (shopwedo atp 9, not handed over 2)", "7 → 6"],
        "{name}"
    );
    // Another runner, which does not hold the pass, writes nothing, not even the first
    // of several records.
    let mut bs = again.clone();
    bs.reason = Some("b's".into());
    let new = offer("bol", "new", now);
    let lost = b
        .save_offers(
            STOCK,
            "b",
            &[(new.clone(), Some("b's".into())), (bs, Some("b's".into()))],
        )
        .await;
    assert!(pass_lost(&lost, STOCK), "{name}: {lost:?}");
    assert_eq!(b.offers().await.unwrap(), read, "{name}: nothing of b's");
    assert!(b.history(&new.key()).await.unwrap().is_empty(), "{name}");
    assert_eq!(notes(b.as_ref(), &one.key()).await.len(), 2, "{name}");
    // Nor does the holder once it ended the pass.
    a.end_pass(STOCK, "a", now, now + Duration::minutes(15), "6 offers")
        .await
        .unwrap();
    assert!(
        pass_lost(&a.save_offers(STOCK, "a", &[(new.clone(), None)]).await, STOCK),
        "{name}: ended"
    );
    assert_eq!(a.offers().await.unwrap(), read, "{name}");
    // An empty call writes nothing, and is refused all the same to a non-holder.
    assert!(b.claim_pass(STOCK, "b", now, until, true).await.unwrap());
    b.save_offers(STOCK, "b", &[]).await.unwrap();
    assert!(pass_lost(&a.save_offers(STOCK, "a", &[]).await, STOCK));
    assert_eq!(a.offers().await.unwrap(), read, "{name}");
}

/// A stored offer that no longer reads is left out of `offers`, the others read; written
/// again, it reads again.
async fn an_unreadable_offer_is_left_out(s: &Subject) {
    let Some(spoil) = &s.spoil_offer else {
        return;
    };
    let name = s.name;
    let (a, b) = (s.fresh)();
    let now = now();
    assert!(
        a.claim_pass(STOCK, "a", now, now + Duration::minutes(5), false)
            .await
            .unwrap()
    );
    let records: Vec<(OfferRecord, Option<String>)> = ["1", "2", "3"]
        .into_iter()
        .map(|id| (offer("bol", id, now), None))
        .collect();
    a.save_offers(STOCK, "a", &records).await.unwrap();
    spoil(b.as_ref(), "bol", "2");
    let ids: Vec<String> = b
        .offers()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.offer_id)
        .collect();
    assert_eq!(ids, ["1", "3"], "{name}: the unreadable one left out");
    a.save_offers(STOCK, "a", &records[1..2]).await.unwrap();
    assert_eq!(b.offers().await.unwrap().len(), 3, "{name}: written again");
}

/// The event `n` of `channel` (its id as the flow makes it: the channel and a SHA-256 in
/// hex), of `kind` about `resource_id`, received at `at`, with bol's body for it.
pub fn event(channel: &str, n: u64, kind: &str, resource_id: Option<&str>, at: DateTime<Utc>) -> EventRecord {
    let (resource, what) = kind.split_once(':').unwrap_or((kind, ""));
    EventRecord {
        id: format!("{channel}:{n:064x}"),
        channel: channel.to_owned(),
        kind: kind.to_owned(),
        resource_id: resource_id.map(str::to_owned),
        received_at: at,
        handled_at: None,
        body: serde_json::json!({
            "retailerId": "1234567",
            "timestamp": at.to_rfc3339(),
            "event": {"resource": resource, "type": what, "resourceId": resource_id},
        })
        .to_string(),
    }
}

/// The ids of events, in their order.
fn ids(events: &[EventRecord]) -> Vec<&str> {
    events.iter().map(|e| e.id.as_str()).collect()
}

/// An event is added once, whichever runner adds it again (bol delivering it again), and
/// what was added first is kept; it reads back as it was added.
async fn an_event_is_added_once(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    let t = now();
    let first = event("bol", 1, "ORDER:ORDER_CREATED", Some("1043946570"), t);
    assert!(a.add_event(&first).await.unwrap(), "{name}: added");
    assert!(!b.add_event(&first).await.unwrap(), "{name}: added once");
    // The same id again, received later (a re-delivery): nothing changes.
    let mut again = first.clone();
    again.received_at = t + Duration::seconds(40);
    again.kind = "ORDER:ORDER_CREATED_AGAIN".into();
    assert!(!a.add_event(&again).await.unwrap(), "{name}: a re-delivery");
    assert_eq!(
        b.unhandled_events("bol", 10).await.unwrap(),
        vec![first.clone()],
        "{name}: as first added"
    );
    let other = event("bol", 2, "PROCESS_STATUS:SUCCESS", None, t + Duration::seconds(1));
    assert!(b.add_event(&other).await.unwrap(), "{name}");
    assert_eq!(
        a.unhandled_events("bol", 10).await.unwrap(),
        vec![first, other.clone()],
        "{name}: a resource id or none, each read back as written"
    );
    let stats = a.event_stats().await.unwrap();
    assert_eq!(
        (stats.received, stats.unhandled, stats.last_received),
        (2, 2, Some(other.received_at)),
        "{name}: {stats:?}"
    );
}

/// Unhandled events of one channel, oldest first, at most `limit`; a handled one is not
/// among them.
async fn unhandled_events_come_oldest_first(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    let t = now();
    let at = |secs: i64| t + Duration::seconds(secs);
    let late = event("bol", 3, "ORDER:ORDER_CREATED", Some("3"), at(30));
    let early = event("bol", 4, "ORDER:ORDER_CREATED", Some("4"), at(10));
    let middle = event("bol", 2, "SHIPMENT:UPDATE_TRANSPORT_EVENT", Some("2"), at(20));
    let elsewhere = event("other", 1, "ORDER:ORDER_CREATED", Some("1"), at(0));
    for e in [&late, &early, &middle, &elsewhere] {
        assert!(a.add_event(e).await.unwrap(), "{name}");
    }
    assert_eq!(
        ids(&b.unhandled_events("bol", 10).await.unwrap()),
        ids(&[early.clone(), middle.clone(), late.clone()]),
        "{name}: oldest first, of the channel asked for"
    );
    assert_eq!(
        ids(&b.unhandled_events("bol", 2).await.unwrap()),
        ids(&[early.clone(), middle.clone()]),
        "{name}: at most the limit"
    );
    assert!(b.unhandled_events("bol", 0).await.unwrap().is_empty(), "{name}");
    assert!(
        b.unhandled_events("nowhere", 10).await.unwrap().is_empty(),
        "{name}"
    );
    assert_eq!(
        ids(&a.unhandled_events("other", 10).await.unwrap()),
        [elsewhere.id.as_str()],
        "{name}"
    );
    b.event_handled(&early.id, at(40)).await.unwrap();
    assert_eq!(
        ids(&a.unhandled_events("bol", 1).await.unwrap()),
        [middle.id.as_str()],
        "{name}: a handled event is not among them"
    );
    let stats = a.event_stats().await.unwrap();
    assert_eq!(
        (stats.received, stats.unhandled, stats.last_received),
        (4, 3, Some(late.received_at)),
        "{name}: {stats:?}"
    );
}

/// An event handled twice keeps its first time (seen by the purge); an unknown id is
/// no error.
async fn an_event_is_handled_once(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    let t = now();
    let e = event("bol", 7, "PROCESS_STATUS:SUCCESS", Some("1234"), t);
    assert!(a.add_event(&e).await.unwrap(), "{name}");
    a.event_handled(&e.id, t + Duration::minutes(1)).await.unwrap();
    b.event_handled(&e.id, t + Duration::hours(2)).await.unwrap();
    a.event_handled("bol:unknown", t).await.unwrap();
    assert!(a.unhandled_events("bol", 10).await.unwrap().is_empty(), "{name}");
    let stats = b.event_stats().await.unwrap();
    assert_eq!((stats.received, stats.unhandled), (1, 0), "{name}: {stats:?}");
    // Handled a minute after it came, not two hours after: a purge of what was handled
    // before the first hour's end takes it.
    assert_eq!(
        b.purge_events(t + Duration::hours(1)).await.unwrap(),
        1,
        "{name}: the first time kept"
    );
}

/// A purge deletes the events handled before the time given, and never an unhandled
/// one, however old.
async fn the_purge_takes_handled_events_only(s: &Subject) {
    let name = s.name;
    let (a, b) = (s.fresh)();
    let t = now();
    let old_handled = event("bol", 1, "ORDER:ORDER_CREATED", Some("1"), t - Duration::days(10));
    let recent_handled = event("bol", 2, "ORDER:ORDER_CREATED", Some("2"), t - Duration::days(9));
    let old_unhandled = event("bol", 3, "ORDER:ORDER_CREATED", Some("3"), t - Duration::days(30));
    let mut added_handled = event("other", 4, "TEST:TEST", None, t - Duration::days(8));
    added_handled.handled_at = Some(t - Duration::days(8));
    for e in [&old_handled, &recent_handled, &old_unhandled, &added_handled] {
        assert!(a.add_event(e).await.unwrap(), "{name}");
    }
    a.event_handled(&old_handled.id, t - Duration::days(10))
        .await
        .unwrap();
    a.event_handled(&recent_handled.id, t - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        b.purge_events(t - Duration::days(1)).await.unwrap(),
        2,
        "{name}: the two handled more than a day ago"
    );
    assert_eq!(
        b.purge_events(t - Duration::days(1)).await.unwrap(),
        0,
        "{name}: once"
    );
    let stats = a.event_stats().await.unwrap();
    assert_eq!(
        (stats.received, stats.unhandled, stats.last_received),
        (2, 1, Some(recent_handled.received_at)),
        "{name}: {stats:?}"
    );
    // Whatever the time, an unhandled event stays.
    assert_eq!(
        b.purge_events(t + Duration::days(365)).await.unwrap(),
        1,
        "{name}"
    );
    assert_eq!(
        ids(&a.unhandled_events("bol", 10).await.unwrap()),
        [old_unhandled.id.as_str()],
        "{name}: never purged while unhandled"
    );
    // Once purged, the same delivery is a new event (bol gives up delivering one after
    // ten minutes: keep handled events longer than that).
    assert!(a.add_event(&old_handled).await.unwrap(), "{name}");
    let empty = (s.fresh)().0.event_stats().await.unwrap();
    assert_eq!(
        (empty.received, empty.unhandled, empty.last_received),
        (0, 0, None),
        "{name}: an empty journal"
    );
}
