//! One suite of behaviour for every [`TokenStore`](commerce_core::TokenStore) and
//! [`RateStore`](commerce_core::RateStore): written once, run over the in-memory store (commerce-core's
//! `tests/all/shared_state.rs`), the SQLite and the PostgreSQL stores (the facade's
//! `tests/all/journal.rs` and `tests/all/postgres.rs`).
//!
//! Each "process" is a handle the `Subject` opens on the same state, as another process
//! opens it (a connection of its own). The stores use the wall clock (the machine's, or the
//! database's), so the checks wait for real, briefly, and only ever assert what a wait of
//! at least that long makes certain, or what holds with a margin of most of a second.

use std::time::Duration;

use commerce_core::{
    BucketDecision, Credential, ExposeSecret, Grant, Quota, SharedState, Stored, TokenRules,
};

/// The store under test.
pub struct Subject {
    /// What the report calls it.
    pub name: &'static str,
    /// A new handle on the same state, as another process opens it.
    pub open: Box<dyn Fn() -> SharedState + Send + Sync>,
    /// Every byte the store keeps at rest (a file, its tables); `None` for memory.
    pub at_rest: Option<Box<dyn Fn() -> Vec<u8> + Send + Sync>>,
    /// Whether processes share it, so one can die holding a grant (not the in-memory
    /// store: one process's, its grants end with their permits).
    pub across_processes: bool,
}

/// Runs every check over `subject`.
pub async fn conformance(subject: &Subject) {
    eprintln!("{}: one token request for many takers", subject.name);
    one_token_request_for_many_takers(subject).await;
    eprintln!("{}: a dead holder's claim expires", subject.name);
    a_dead_holders_claim_expires(subject).await;
    eprintln!("{}: a refused token is dropped for all", subject.name);
    a_refused_token_is_dropped_for_all(subject).await;
    eprintln!("{}: failed requests cool down per credential", subject.name);
    failed_requests_cool_down_per_credential(subject).await;
    eprintln!("{}: another secret does not open a token", subject.name);
    another_secret_does_not_open_a_token(subject).await;
    eprintln!("{}: nothing in clear text at rest", subject.name);
    nothing_in_clear_text_at_rest(subject).await;
    eprintln!("{}: a quota is spent jointly", subject.name);
    a_quota_is_spent_jointly(subject).await;
    eprintln!("{}: calls under way count", subject.name);
    calls_under_way_count(subject).await;
    eprintln!("{}: a pause only extends", subject.name);
    a_pause_only_extends(subject).await;
    eprintln!("{}: a budget only decreases within its period", subject.name);
    a_budget_only_decreases_within_its_period(subject).await;
    if subject.across_processes {
        eprintln!("{}: a dead process's grant expires", subject.name);
        a_dead_processs_grant_expires(subject).await;
    }
}

/// A name no other run uses (PostgreSQL's database outlives a test).
fn unique(what: &str) -> String {
    format!("{what}-{}-{:016x}", std::process::id(), fastrand::u64(..))
}

fn credential(secret: &str) -> Credential {
    Credential {
        id: unique("https://login.example/token client"),
        secret: secret.to_owned().into(),
    }
}

const HOLD: Duration = Duration::from_secs(45);
const MIN_LEFT: Duration = Duration::from_secs(30);
const LIFE: Duration = Duration::from_secs(300);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Asks `ask` again until it answers what `wanted` accepts (a store may queue a call's end):
/// at most 5 s.
async fn eventually<T: std::fmt::Debug, F: std::future::Future<Output = T>>(
    what: &str,
    mut ask: impl FnMut() -> F,
    wanted: impl Fn(&T) -> bool,
) -> T {
    let deadline = std::time::Instant::now() + secs(5);
    loop {
        let got = ask().await;
        if wanted(&got) {
            return got;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: still {got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn token_of(stored: &Stored) -> Option<(String, u64)> {
    match stored {
        Stored::Token {
            secret, generation, ..
        } => Some((secret.expose_secret().to_owned(), *generation)),
        _ => None,
    }
}

/// Twelve takers in three processes at once: one is given the request, every other one
/// waits; once it stores the token, every process takes that one.
pub async fn one_token_request_for_many_takers(s: &Subject) {
    let procs: Vec<SharedState> = (0..3).map(|_| (s.open)()).collect();
    let c = credential("secret-1");
    let takes = (0..12).map(|i| {
        let p = procs[i % 3].clone();
        let c = c.clone();
        async move { p.tokens.take(&c, MIN_LEFT, None, HOLD).await.unwrap() }
    });
    let answers = futures_util::future::join_all(takes).await;
    let fetches = answers.iter().filter(|a| matches!(a, Stored::Fetch)).count();
    let waits = answers.iter().filter(|a| matches!(a, Stored::Wait(_))).count();
    assert_eq!((fetches, waits), (1, 11), "{}: {answers:?}", s.name);
    let token = unique("tok");
    let generation = procs[0]
        .tokens
        .put(&c, &token.clone().into(), LIFE)
        .await
        .unwrap();
    for p in &procs {
        let got = p.tokens.take(&c, MIN_LEFT, None, HOLD).await.unwrap();
        assert_eq!(token_of(&got), Some((token.clone(), generation)), "{}", s.name);
        let Stored::Token { left, .. } = got else {
            unreachable!()
        };
        assert!(left > secs(290) && left <= LIFE, "{}: {left:?}", s.name);
    }
    // A token with less life than asked for is renewed: the first to see it claims that.
    assert!(matches!(
        procs[1].tokens.take(&c, secs(400), None, HOLD).await.unwrap(),
        Stored::Fetch
    ));
    assert!(matches!(
        procs[2].tokens.take(&c, secs(400), None, HOLD).await.unwrap(),
        Stored::Wait(_)
    ));
}

/// The holder of the request dies: its claim ends with its `hold`, and another takes it.
pub async fn a_dead_holders_claim_expires(s: &Subject) {
    let (a, b) = ((s.open)(), (s.open)());
    let c = credential("secret-1");
    let hold = Duration::from_millis(300);
    assert!(matches!(
        a.tokens.take(&c, MIN_LEFT, None, hold).await.unwrap(),
        Stored::Fetch
    ));
    drop(a);
    assert!(matches!(
        b.tokens.take(&c, MIN_LEFT, None, hold).await.unwrap(),
        Stored::Wait(_)
    ));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        matches!(
            b.tokens.take(&c, MIN_LEFT, None, HOLD).await.unwrap(),
            Stored::Fetch
        ),
        "{}",
        s.name
    );
}

/// A token the provider refused, named by its generation, is gone for every process; a
/// refusal of an older generation does not drop the newer token.
pub async fn a_refused_token_is_dropped_for_all(s: &Subject) {
    let (a, b) = ((s.open)(), (s.open)());
    let c = credential("secret-1");
    assert!(matches!(
        a.tokens.take(&c, MIN_LEFT, None, HOLD).await.unwrap(),
        Stored::Fetch
    ));
    let first = a.tokens.put(&c, &"tok-1".to_owned().into(), LIFE).await.unwrap();
    assert!(matches!(
        b.tokens.take(&c, MIN_LEFT, Some(first), HOLD).await.unwrap(),
        Stored::Fetch
    ));
    assert!(
        matches!(
            a.tokens.take(&c, MIN_LEFT, None, HOLD).await.unwrap(),
            Stored::Wait(_)
        ),
        "{}: the refused token is not handed out any more",
        s.name
    );
    let second = b.tokens.put(&c, &"tok-2".to_owned().into(), LIFE).await.unwrap();
    assert!(second > first);
    let got = a.tokens.take(&c, MIN_LEFT, Some(first), HOLD).await.unwrap();
    assert_eq!(token_of(&got), Some(("tok-2".to_owned(), second)), "{}", s.name);
}

/// Failures in a row count per credential, whichever process made them: five failures of
/// two processes hold the request for the fifth's cool-down, not for the third's; another
/// credential is not held; a stored token resets the count; the provider's `Retry-After`
/// wins when longer.
pub async fn failed_requests_cool_down_per_credential(s: &Subject) {
    let (a, b) = ((s.open)(), (s.open)());
    let c = credential("secret-1");
    // 100 ms, doubling: the fifth failure holds 1.6 s; a count per process (3 and 2) would
    // hold 400 ms.
    let rules = TokenRules::default().with_cool_down(Duration::from_millis(100), secs(60));
    assert!(matches!(
        a.tokens.take(&c, MIN_LEFT, None, HOLD).await.unwrap(),
        Stored::Fetch
    ));
    for p in [&a, &b, &a, &b, &a] {
        p.tokens.abandon(&c, &rules, None).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        matches!(
            b.tokens.take(&c, MIN_LEFT, None, HOLD).await.unwrap(),
            Stored::Wait(_)
        ),
        "{}: five failures of the credential hold it 1.6 s",
        s.name
    );
    let other = credential("secret-1");
    assert!(matches!(
        b.tokens.take(&other, MIN_LEFT, None, HOLD).await.unwrap(),
        Stored::Fetch
    ));
    // A stored token resets the count: one failure after it holds 100 ms.
    a.tokens
        .put(&c, &"tok".to_owned().into(), secs(10))
        .await
        .unwrap();
    b.tokens.abandon(&c, &rules, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        matches!(
            a.tokens.take(&c, secs(60), None, HOLD).await.unwrap(),
            Stored::Fetch
        ),
        "{}: the count was reset by the stored token",
        s.name
    );
    a.tokens.abandon(&c, &rules, Some(secs(30))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        matches!(
            b.tokens.take(&c, secs(60), None, HOLD).await.unwrap(),
            Stored::Wait(_)
        ),
        "{}: the provider's Retry-After",
        s.name
    );
}

/// A process with another secret (mid-rotation) cannot open the stored token: it gets the
/// request instead.
pub async fn another_secret_does_not_open_a_token(s: &Subject) {
    let (a, b) = ((s.open)(), (s.open)());
    let c = credential("secret-1");
    assert!(matches!(
        a.tokens.take(&c, MIN_LEFT, None, HOLD).await.unwrap(),
        Stored::Fetch
    ));
    a.tokens.put(&c, &"tok-1".to_owned().into(), LIFE).await.unwrap();
    if !s.across_processes {
        // The in-memory store keeps tokens as they are: nothing at rest to protect.
        return;
    }
    let rotated = Credential {
        secret: "secret-2".to_owned().into(),
        ..c.clone()
    };
    assert!(
        matches!(
            b.tokens.take(&rotated, MIN_LEFT, None, HOLD).await.unwrap(),
            Stored::Fetch
        ),
        "{}: a token sealed under another secret is as good as none",
        s.name
    );
}

/// What the store keeps at rest has neither the token, nor the credential's identity or
/// secret, nor the bucket's name (its account) in clear text.
pub async fn nothing_in_clear_text_at_rest(s: &Subject) {
    let Some(at_rest) = &s.at_rest else {
        return;
    };
    let a = (s.open)();
    let c = credential("secret-in-clear");
    let token = unique("tok-in-clear");
    assert!(matches!(
        a.tokens.take(&c, MIN_LEFT, None, HOLD).await.unwrap(),
        Stored::Fetch
    ));
    a.tokens.put(&c, &token.clone().into(), LIFE).await.unwrap();
    let bucket = unique("shop account-in-clear");
    let Grant::Granted(id) = a.rates.try_grant(&bucket, &[], false, secs(120)).await.unwrap() else {
        panic!("{}: no grant", s.name)
    };
    a.rates.end(&bucket, id, true);
    a.rates.budget(&bucket, 10, 1, secs(60)).await.unwrap();
    let bytes = at_rest();
    let found = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!found(&token), "{}: the token in clear text", s.name);
    assert!(
        !found(&c.id),
        "{}: the credential's identity in clear text",
        s.name
    );
    assert!(!found("secret-in-clear"), "{}: the credential's secret", s.name);
    assert!(!found(&bucket), "{}: the bucket's name in clear text", s.name);
    // What is there is still the token for its credential.
    let got = (s.open)().tokens.take(&c, MIN_LEFT, None, HOLD).await.unwrap();
    assert_eq!(token_of(&got).map(|t| t.0), Some(token), "{}", s.name);
}

fn one_minute(limit: u32) -> Vec<Quota> {
    vec![Quota::new(limit, secs(60)).with_margin(Duration::ZERO)]
}

async fn grant(p: &SharedState, bucket: &str, quotas: &[Quota]) -> Grant {
    p.rates.try_grant(bucket, quotas, false, secs(120)).await.unwrap()
}

/// Three processes spend one quota: three calls of a quota of three in a minute, then
/// every process waits for the window (not for a call under way: theirs are over).
pub async fn a_quota_is_spent_jointly(s: &Subject) {
    let procs: Vec<SharedState> = (0..3).map(|_| (s.open)()).collect();
    let bucket = unique("quota");
    let q = one_minute(3);
    for p in &procs {
        let Grant::Granted(id) = grant(p, &bucket, &q).await else {
            panic!("{}: the quota has room", s.name)
        };
        p.rates.end(&bucket, id, true);
    }
    for p in &procs {
        let got = eventually(
            "the calls' ends",
            || grant(p, &bucket, &q),
            |g| !matches!(g, Grant::Denied(BucketDecision::AfterCompletion)),
        )
        .await;
        assert!(
            matches!(got, Grant::Denied(BucketDecision::Wait(d)) if d > secs(50) && d <= secs(60)),
            "{}: {got:?}",
            s.name
        );
    }
}

/// A call under way counts until it ends (its arrival at the provider is not known): two
/// open grants of a quota of two hold the third until one ends; one forgotten (the call was
/// not made) frees its slot. A provider announcing its budget gets one call at a time until
/// the budget is known.
pub async fn calls_under_way_count(s: &Subject) {
    let (a, b, c) = ((s.open)(), (s.open)(), (s.open)());
    let bucket = unique("open");
    let q = one_minute(2);
    let Grant::Granted(first) = grant(&a, &bucket, &q).await else {
        panic!("{}: room", s.name)
    };
    assert!(matches!(grant(&b, &bucket, &q).await, Grant::Granted(_)));
    assert_eq!(
        grant(&c, &bucket, &q).await,
        Grant::Denied(BucketDecision::AfterCompletion),
        "{}",
        s.name
    );
    a.rates.end(&bucket, first, false);
    let got = eventually(
        "a forgotten grant",
        || grant(&c, &bucket, &q),
        |g| matches!(g, Grant::Granted(_)),
    )
    .await;
    assert!(matches!(got, Grant::Granted(_)));
    let slow = unique("slow-start");
    assert!(matches!(
        a.rates.try_grant(&slow, &[], true, secs(120)).await.unwrap(),
        Grant::Granted(_)
    ));
    assert_eq!(
        b.rates.try_grant(&slow, &[], true, secs(120)).await.unwrap(),
        Grant::Denied(BucketDecision::AfterCompletion),
        "{}: slow start",
        s.name
    );
}

/// A pause asked of one process holds for all, and a shorter one asked after it does not
/// shorten it.
pub async fn a_pause_only_extends(s: &Subject) {
    let (a, b, c) = ((s.open)(), (s.open)(), (s.open)());
    let bucket = unique("pause");
    a.rates.pause(&bucket, secs(10)).await.unwrap();
    b.rates.pause(&bucket, secs(1)).await.unwrap();
    let got = grant(&c, &bucket, &one_minute(100)).await;
    assert!(
        matches!(got, Grant::Denied(BucketDecision::Paused(d)) if d > secs(8)),
        "{}: {got:?}",
        s.name
    );
}

/// The provider's budget (`X-RateLimit-Remaining`) within one period only decreases,
/// whichever process read it; each grant spends it; a call not made gives its share back.
pub async fn a_budget_only_decreases_within_its_period(s: &Subject) {
    let (a, b) = ((s.open)(), (s.open)());
    let bucket = unique("budget");
    a.rates.budget(&bucket, 2, 0, secs(60)).await.unwrap();
    b.rates.budget(&bucket, 9, 0, secs(60)).await.unwrap();
    let Grant::Granted(first) = grant(&a, &bucket, &[]).await else {
        panic!("{}: a budget of two", s.name)
    };
    assert!(matches!(grant(&b, &bucket, &[]).await, Grant::Granted(_)));
    let got = grant(&a, &bucket, &[]).await;
    assert!(
        matches!(got, Grant::Denied(BucketDecision::Paused(d)) if d > secs(50)),
        "{}: the budget is spent until its reset: {got:?}",
        s.name
    );
    a.rates.end(&bucket, first, false);
    eventually(
        "a share given back",
        || grant(&b, &bucket, &[]),
        |g| matches!(g, Grant::Granted(_)),
    )
    .await;
}

/// A process that dies mid-call leaves its grant open; it counts as ended when it would have
/// ended at the latest (`open_for`), not for ever.
pub async fn a_dead_processs_grant_expires(s: &Subject) {
    let (a, b) = ((s.open)(), (s.open)());
    let bucket = unique("dead");
    let q = one_minute(1);
    assert!(matches!(
        a.rates
            .try_grant(&bucket, &q, false, Duration::from_millis(300))
            .await
            .unwrap(),
        Grant::Granted(_)
    ));
    // The process dies: no end comes.
    drop(a);
    assert_eq!(
        grant(&b, &bucket, &q).await,
        Grant::Denied(BucketDecision::AfterCompletion),
        "{}",
        s.name
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let got = grant(&b, &bucket, &q).await;
    assert!(
        matches!(got, Grant::Denied(BucketDecision::Wait(d)) if d > secs(50)),
        "{}: the dead grant counts as a call made, in its window: {got:?}",
        s.name
    );
}
