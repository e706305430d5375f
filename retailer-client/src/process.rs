//! Waiting for bol's process statuses: most changes answer `202` with a process status
//! that moves from `PENDING` to `SUCCESS`, `FAILURE` or `TIMEOUT`. One at a time
//! (`GET /shared/process-status/{id}`), or many at once (`POST /shared/process-status`).
//!
//! Every wait of a client (and of its clones) shares its polls: a poll asks for every
//! process status any caller still waits for, so callers confirming shipments at once
//! (the flow's workers, a batch) cost one request a round between them, not one each.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use commerce_core::{Delivery, Error, ProviderError, ValidationErrors};
use tokio::time::Instant;

use crate::client::{PROVIDER, RetailerClient};
use crate::generated::models::{
    BulkProcessStatusRequest, ProcessState, ProcessStatus, ProcessStatusId, ShipmentRequest,
};

/// The most process status ids bol takes in one bulk request (`POST /shared/process-status`);
/// [`RetailerClient::wait_for_processes`] asks for more in chunks of this size.
pub const BULK_PROCESS_STATUS_LIMIT: usize = 1000;

/// How [`RetailerClient::wait_for_process`] and [`RetailerClient::wait_for_processes`] poll.
///
/// The default polls soon and backs off gently: bol finishes most process statuses within a
/// second or two ("PENDING, then SUCCESS"), so a first poll after 100 ms, each wait half as
/// long again as the one before (100, 150, 225, 337.5 ms, ...) up to 2 s, finds it done about
/// when it is (a third poll after under half a second), where doubling from a second slept
/// 7 s to see a third poll. The client's pacing keeps every poll within bol's rate limit for
/// the endpoint whatever these say, and waits running at once share their polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// Give up after this long.
    pub deadline: Duration,
    /// The first wait between polls.
    pub first_delay: Duration,
    /// The longest wait between polls.
    pub max_delay: Duration,
    /// Each wait is this many percent of the one before (150: half as long again; 200:
    /// doubling), up to `max_delay`.
    pub growth_percent: u32,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            deadline: Duration::from_secs(120),
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            growth_percent: 150,
        }
    }
}

impl WaitOptions {
    /// The wait after `delay`: `growth_percent` of it (at least as long), at most
    /// `max_delay`.
    pub fn next_delay(&self, delay: Duration) -> Duration {
        let grown = delay.saturating_mul(self.growth_percent.max(100)) / 100;
        grown.max(delay).min(self.max_delay)
    }
}

impl WaitOptions {
    /// Waits up to `deadline`, with the default delays.
    pub fn deadline(deadline: Duration) -> Self {
        WaitOptions {
            deadline,
            ..Self::default()
        }
    }
}

/// Whether a process status is final.
pub fn is_final(status: &ProcessStatus) -> bool {
    matches!(
        status.status,
        ProcessState::Success | ProcessState::Failure | ProcessState::Timeout
    )
}

/// How many shipments [`RetailerClient::confirm_shipments`] creates at once (bol's pacing
/// decides how fast they go).
pub(crate) const CONCURRENT_CREATES: usize = 8;

/// The process statuses waited for through one client (and its clones): every wait
/// registers its ids here, one poll at a time asks for all of them, and each wait takes the
/// final ones it waits for.
pub(crate) struct Waits {
    state: Mutex<WaitState>,
    /// Held while a poll is under way: one poll at a time.
    poll: tokio::sync::Mutex<()>,
    /// Counts the polls done: a wait looks at its ids after each.
    rounds: tokio::sync::watch::Sender<u64>,
    /// Counts the pushed outcomes told ([`Waits::arrived`]): a wait asleep looks whether
    /// one of its ids was pushed, and then polls at once.
    pushes: tokio::sync::watch::Sender<u64>,
}

/// How many pushed ids no wait was waiting for are remembered (a push may come before the
/// wait for its id starts): the oldest are forgotten first.
const EARLY_PUSHES: usize = 256;

impl Default for Waits {
    fn default() -> Self {
        Waits {
            state: Mutex::new(WaitState::default()),
            poll: tokio::sync::Mutex::new(()),
            rounds: tokio::sync::watch::Sender::new(0),
            pushes: tokio::sync::watch::Sender::new(0),
        }
    }
}

#[derive(Default)]
struct WaitState {
    ids: HashMap<String, Entry>,
    /// Numbers the ids in the order they were first waited for.
    next: u64,
    /// How many polls have started.
    polls: u64,
    /// Pushed ids no wait was waiting for yet, newest last.
    early: VecDeque<String>,
}

struct Entry {
    /// The waits asking for it: the entry goes with the last.
    waiters: usize,
    /// When it was first waited for (polls ask in this order).
    order: u64,
    /// The number of the last poll that asked for it and was answered.
    polled: u64,
    /// Its final status, once a poll saw it.
    done: Option<ProcessStatus>,
    /// bol pushed an outcome for it since the last poll that asked for it: poll at once.
    pushed: bool,
}

impl Waits {
    fn lock(&self) -> std::sync::MutexGuard<'_, WaitState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register<'a>(&'a self, ids: &[String]) -> Registered<'a> {
        let mut state = self.lock();
        for id in ids {
            let order = state.next;
            state.next += 1;
            let early = match state.early.iter().position(|e| e == id) {
                Some(at) => state.early.remove(at).is_some(),
                None => false,
            };
            let entry = state.ids.entry(id.clone()).or_insert(Entry {
                waiters: 0,
                order,
                polled: 0,
                done: None,
                pushed: false,
            });
            entry.waiters += 1;
            entry.pushed |= early;
        }
        Registered {
            waits: self,
            ids: ids.to_vec(),
        }
    }

    /// The final statuses of `ids` seen so far.
    fn finished(&self, ids: &[String]) -> HashMap<String, ProcessStatus> {
        let state = self.lock();
        ids.iter()
            .filter_map(|id| Some((id.clone(), state.ids.get(id)?.done.clone()?)))
            .collect()
    }

    /// bol pushed an outcome for process status `id`: a wait for it polls at once (one
    /// that starts soon after, too).
    pub(crate) fn arrived(&self, id: &str) {
        {
            let mut state = self.lock();
            match state.ids.get_mut(id) {
                Some(e) if e.done.is_none() => e.pushed = true,
                Some(_) => return,
                None => {
                    if !state.early.iter().any(|e| e == id) {
                        if state.early.len() == EARLY_PUSHES {
                            state.early.pop_front();
                        }
                        state.early.push_back(id.to_owned());
                    }
                }
            }
        }
        self.pushes.send_modify(|n| *n += 1);
    }

    /// Whether bol pushed an outcome for one of `ids` (not final yet) since a poll last
    /// asked for it.
    fn pushed(&self, ids: &[String]) -> bool {
        let state = self.lock();
        ids.iter()
            .any(|id| state.ids.get(id).is_some_and(|e| e.pushed && e.done.is_none()))
    }

    /// How many polls have started so far.
    fn polls(&self) -> u64 {
        self.lock().polls
    }

    /// Whether every one of `ids` not final yet was asked for (and answered) by a poll that
    /// started after the first `polls`.
    fn polled_since(&self, ids: &[String], polls: u64) -> bool {
        let state = self.lock();
        ids.iter().all(|id| {
            state
                .ids
                .get(id)
                .is_none_or(|e| e.done.is_some() || e.polled > polls)
        })
    }

    /// A new poll: its number, and every id some wait still needs, in the order they were
    /// first waited for.
    fn start_poll(&self) -> (u64, Vec<String>) {
        let mut state = self.lock();
        state.polls += 1;
        let poll = state.polls;
        // A poll asks for every id pushed so far: the pushes are answered by it.
        for e in state.ids.values_mut() {
            e.pushed = false;
        }
        let mut pending: Vec<(u64, &String)> = state
            .ids
            .iter()
            .filter(|(_, e)| e.done.is_none())
            .map(|(id, e)| (e.order, id))
            .collect();
        pending.sort_unstable();
        (poll, pending.into_iter().map(|(_, id)| id.clone()).collect())
    }

    /// Poll number `poll` asked for `asked` and bol answered `answer`: the final ones are
    /// kept (a status for an id not asked for is ignored).
    fn record(&self, poll: u64, asked: &[String], answer: Vec<ProcessStatus>) -> usize {
        let mut state = self.lock();
        for id in asked {
            if let Some(e) = state.ids.get_mut(id) {
                e.polled = e.polled.max(poll);
            }
        }
        let asked: HashSet<&str> = asked.iter().map(String::as_str).collect();
        let mut finished = 0;
        for now in answer {
            let Some(id) = now.process_status_id.as_deref() else {
                continue;
            };
            if !asked.contains(id) || !is_final(&now) {
                continue;
            }
            if let Some(e) = state.ids.get_mut(id)
                && e.done.is_none()
            {
                e.done = Some(now);
                finished += 1;
            }
        }
        finished
    }
}

/// A wait's ids, forgotten when the last wait for them ends (or is cancelled).
struct Registered<'a> {
    waits: &'a Waits,
    ids: Vec<String>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let mut state = self.waits.lock();
        for id in &self.ids {
            if let Some(e) = state.ids.get_mut(id) {
                e.waiters -= 1;
                if e.waiters == 0 {
                    state.ids.remove(id);
                }
            }
        }
    }
}

/// The id a status is polled by (`None`: it has none to poll).
fn poll_id(status: &ProcessStatus) -> Option<&str> {
    status.process_status_id.as_deref().filter(|id| !id.is_empty())
}

/// A status as it stands after a wait: itself when it was final already, else its poll's
/// final answer (`None`: not final by the end of the wait).
fn latest(status: &ProcessStatus, done: &HashMap<String, ProcessStatus>) -> Option<ProcessStatus> {
    if is_final(status) {
        return Some(status.clone());
    }
    poll_id(status).and_then(|id| done.get(id)).cloned()
}

/// The ids to poll for `statuses`: those not final, each once, in the order given; a status
/// without an id is refused, naming its index.
fn ids_to_poll(statuses: &[ProcessStatus]) -> Result<Vec<String>, Error> {
    let mut pending = Vec::new();
    let mut seen = HashSet::new();
    let mut missing = ValidationErrors::new();
    for (i, status) in statuses.iter().enumerate() {
        if is_final(status) {
            continue;
        }
        match poll_id(status) {
            Some(id) => {
                if seen.insert(id) {
                    pending.push(id.to_owned());
                }
            }
            None => missing.push(
                format!("statuses[{i}].processStatusId"),
                "the process status has no id to poll",
            ),
        }
    }
    if !missing.is_empty() {
        return Err(Error::InvalidInput(missing));
    }
    Ok(pending)
}

/// The error of a process status that ended in `FAILURE` or `TIMEOUT`, with bol's message.
fn unsuccessful(done: &ProcessStatus) -> Error {
    let mut e = ProviderError::new(PROVIDER.name, format!("process-status {}", done.event_type), 200)
        .with_code(done.status.to_string());
    e.message = Some(
        done.error_message
            .clone()
            .unwrap_or_else(|| format!("{} ended in {}", done.description, done.status)),
    );
    Error::from(e)
}

impl RetailerClient {
    /// Polls the process status until it is `SUCCESS`, `FAILURE` or `TIMEOUT` and returns it;
    /// waits grow from `first_delay` by `growth_percent` up to `max_delay`. Past the deadline
    /// it fails with [`Error::Timeout`] (the change may still happen at bol).
    ///
    /// Waits running at once through this client or its clones share their polls: alone, a
    /// wait polls `GET /shared/process-status/{id}`; with others, one bulk request
    /// (`POST /shared/process-status`) asks for all of them.
    /// bol's 404 for the id (a status it no longer keeps, or does not know yet) is asked
    /// again until the deadline, as [`wait_for_processes`](Self::wait_for_processes) does
    /// for an id left out of an answer.
    pub async fn wait_for_process(
        &self,
        status: &ProcessStatus,
        options: WaitOptions,
    ) -> Result<ProcessStatus, Error> {
        if is_final(status) {
            return Ok(status.clone());
        }
        let id = poll_id(status)
            .ok_or_else(|| Error::invalid("processStatusId", "the process status has no id to poll"))?
            .to_owned();
        let (mut done, failed) = self.wait_ids(std::slice::from_ref(&id), options).await;
        match (done.remove(&id), failed) {
            (Some(now), _) => Ok(now),
            (None, Some(e)) => Err(e),
            (None, None) => unreachable!("a wait ends with every status final or an error"),
        }
    }

    /// Waits for many process statuses at once until every one is `SUCCESS`, `FAILURE` or
    /// `TIMEOUT`, and returns them in the order given. The ones not yet final are polled
    /// with bol's bulk request (`POST /shared/process-status`, at most
    /// [`BULK_PROCESS_STATUS_LIMIT`] ids per request, so more go in several requests a
    /// round; a single id left alone is asked for with `GET /shared/process-status/{id}`),
    /// together with those other waits of this client need.
    ///
    /// It waits as [`wait_for_process`](Self::wait_for_process) does: a first round after
    /// `first_delay`, waits growing by `growth_percent` up to `max_delay`, and past `deadline` it fails with
    /// [`Error::Timeout`] (the changes may still happen at bol; the statuses that did finish
    /// are not returned then). Statuses already final are returned as they are, without a
    /// request; an id given twice is asked for once. A `FAILURE` or `TIMEOUT` is returned,
    /// not an error: look at each status.
    ///
    /// The answers are read tolerantly: an id bol leaves out of an answer, or answers 404
    /// for when it is asked for alone (bol keeps process statuses only for a while), is asked
    /// for again in the next round until the deadline, never dropped, and a status for an id
    /// not asked for is ignored. A status given without a `processStatusId` is refused before
    /// any request ([`Error::InvalidInput`] naming its index); a failed request ends the wait
    /// with its error unless every status it waits for is final by then.
    ///
    /// ```no_run
    /// # use retailer_client::{RetailerClient, WaitOptions};
    /// # use retailer_client::models::ProcessState;
    /// # async fn run(bol: RetailerClient, started: Vec<retailer_client::models::ProcessStatus>) -> Result<(), retailer_client::Error> {
    /// let done = bol.wait_for_processes(&started, WaitOptions::default()).await?;
    /// for (before, after) in started.iter().zip(&done) {
    ///     if after.status != ProcessState::Success {
    ///         println!("{} for {}: {}", after.event_type, after.entity_id.as_deref().unwrap_or("?"), after.status);
    ///     }
    ///     assert_eq!(before.process_status_id, after.process_status_id);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_processes(
        &self,
        statuses: &[ProcessStatus],
        options: WaitOptions,
    ) -> Result<Vec<ProcessStatus>, Error> {
        let pending = ids_to_poll(statuses)?;
        let (done, failed) = self.wait_ids(&pending, options).await;
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(statuses
            .iter()
            .map(|s| latest(s, &done).expect("every status is final when the wait succeeds"))
            .collect())
    }

    /// Like [`wait_for_process`](Self::wait_for_process), but a `FAILURE` or `TIMEOUT` is an
    /// error that carries bol's error message.
    pub async fn wait_for_success(
        &self,
        status: &ProcessStatus,
        options: WaitOptions,
    ) -> Result<ProcessStatus, Error> {
        let done = self.wait_for_process(status, options).await?;
        if done.status == ProcessState::Success {
            return Ok(done);
        }
        Err(unsuccessful(&done))
    }

    /// Confirms many shipments and waits for all of them: creates each shipment
    /// (`POST /retailer/shipments`, a few at a time, as fast as bol's limits let them go),
    /// then waits for all their process statuses together, in bulk (one request a round for
    /// up to [`BULK_PROCESS_STATUS_LIMIT`] of them, shared with any other wait of this
    /// client). Returns, in the order given, each shipment's final `SUCCESS` status or its
    /// error: the create's error, a `FAILURE` or `TIMEOUT` as
    /// [`wait_for_success`](Self::wait_for_success) gives it, or the wait's error
    /// ([`Error::Timeout`] past the deadline, the poll's error when a poll failed) for those
    /// not final then. One shipment's failure never stops the others.
    ///
    /// A create is never sent twice: one whose outcome is unknown
    /// ([`Error::is_unconfirmed`]) is returned as its error; read the order
    /// (`quantityShipped`) before sending it again. Not cancel-safe: dropping the future
    /// while it creates loses which shipments were sent (read the orders then).
    ///
    /// ```no_run
    /// # use retailer_client::{RetailerClient, WaitOptions};
    /// # use retailer_client::models::{OrderItem, ShipmentRequest};
    /// # async fn run(bol: RetailerClient) {
    /// let shipments: Vec<ShipmentRequest> = ["6107434013", "6107434014"]
    ///     .iter()
    ///     .map(|item| ShipmentRequest {
    ///         order_items: vec![OrderItem { order_item_id: item.to_string(), quantity: None }],
    ///         ..Default::default()
    ///     })
    ///     .collect();
    /// let outcomes = bol.confirm_shipments(&shipments, WaitOptions::default()).await;
    /// for (shipment, outcome) in shipments.iter().zip(outcomes) {
    ///     match outcome {
    ///         Ok(done) => println!("{}: shipped ({:?})", shipment.order_items[0].order_item_id, done.entity_id),
    ///         Err(e) => println!("{}: {e}", shipment.order_items[0].order_item_id),
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn confirm_shipments(
        &self,
        shipments: &[ShipmentRequest],
        options: WaitOptions,
    ) -> Vec<Result<ProcessStatus, Error>> {
        use futures_util::StreamExt;
        let created: Vec<Result<ProcessStatus, Error>> = futures_util::stream::iter(shipments)
            .map(|shipment| self.create_shipment(shipment))
            .buffered(CONCURRENT_CREATES)
            .collect()
            .await;
        self.settle(created, "shipment", options).await
    }

    /// Waits, in bulk, for every process status of `created` (the answers to changes sent
    /// one by one) and returns, in the same order, each final `SUCCESS` status or its error:
    /// the change's own error as it was, a `FAILURE` or `TIMEOUT` with bol's message, or the
    /// wait's error for those not final by its end. A status bol gave without an id to poll
    /// is that change's error (`what` names the change in it).
    pub(crate) async fn settle(
        &self,
        created: Vec<Result<ProcessStatus, Error>>,
        what: &str,
        options: WaitOptions,
    ) -> Vec<Result<ProcessStatus, Error>> {
        // Every created one waited for at once; a status bol gave without an id cannot be
        // polled: that change's error.
        let mut ids = Vec::new();
        let mut seen = HashSet::new();
        let created: Vec<Result<ProcessStatus, Error>> = created
            .into_iter()
            .map(|c| {
                let started = c?;
                if is_final(&started) {
                    return Ok(started);
                }
                let id = poll_id(&started).ok_or_else(|| {
                    Error::invalid(
                        "processStatusId",
                        format!("bol answered the {what} with a process status without an id to poll"),
                    )
                })?;
                if seen.insert(id.to_owned()) {
                    ids.push(id.to_owned());
                }
                Ok(started)
            })
            .collect();
        let (done, failed) = self.wait_ids(&ids, options).await;
        created
            .into_iter()
            .map(|c| {
                let Some(now) = latest(&c?, &done) else {
                    return Err(failed
                        .clone()
                        .expect("a wait ends with every status final or an error"));
                };
                if now.status == ProcessState::Success {
                    Ok(now)
                } else {
                    Err(unsuccessful(&now))
                }
            })
            .collect()
    }

    /// Waits for `ids` (distinct, none final yet), sharing every poll with the other waits
    /// of this client: the final statuses seen, and the error that ended the wait early
    /// (past the deadline, or a poll of its own that failed).
    async fn wait_ids(
        &self,
        ids: &[String],
        options: WaitOptions,
    ) -> (HashMap<String, ProcessStatus>, Option<Error>) {
        if ids.is_empty() {
            return (HashMap::new(), None);
        }
        let waits = self.waits();
        // Subscribed before anything is looked at: a push told after a look wakes the sleep.
        let mut pushes = waits.pushes.subscribe();
        let _registered = waits.register(ids);
        let mut rounds = waits.rounds.subscribe();
        let started = Instant::now();
        let mut delay = options.first_delay;
        let all_done = |done: &HashMap<String, ProcessStatus>| done.len() == ids.len();
        let timeout = || {
            tracing::debug!(pending = ids.len(), "process statuses not final by the deadline");
            let timeout = Error::Timeout {
                provider: PROVIDER.name.into(),
                endpoint: "process-status".into(),
                after: options.deadline,
                delivery: Delivery::MaybeSent,
            };
            (waits.finished(ids), Some(timeout))
        };
        loop {
            let left = options.deadline.saturating_sub(started.elapsed());
            if left.is_zero() {
                return timeout();
            }
            // Sleep until the next poll is due, looking after every poll (another wait's
            // included) whether ours are final.
            let asleep = waits.polls();
            let now = Instant::now();
            let wake = now
                .checked_add(delay.min(left))
                .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
            while !waits.pushed(ids) {
                tokio::select! {
                    () = tokio::time::sleep_until(wake) => break,
                    // bol pushed an outcome: if it is one of ours, poll now.
                    changed = pushes.changed() => {
                        if changed.is_err() {
                            tokio::time::sleep_until(wake).await;
                            break;
                        }
                    }
                    changed = rounds.changed() => {
                        if changed.is_err() {
                            // Not while this client lives; never a busy loop all the same.
                            tokio::time::sleep_until(wake).await;
                            break;
                        }
                        let done = waits.finished(ids);
                        if all_done(&done) {
                            return (done, None);
                        }
                    }
                }
            }
            // A poll of another wait that asked for ours while we slept counts as ours. (The
            // deadline is looked at between polls: a poll under way, ours or another wait's,
            // ends first, bounded by the client's own timeouts. No timer runs over a request
            // here: in paused time, tokio would jump to it while the request is under way.)
            // A push for one of ours is answered by a poll that starts after it.
            if !waits.polled_since(ids, asleep) || waits.pushed(ids) {
                let polled = {
                    let _polling = waits.poll.lock().await;
                    if all_done(&waits.finished(ids))
                        || (waits.polled_since(ids, asleep) && !waits.pushed(ids))
                    {
                        Ok(())
                    } else {
                        self.poll_waited().await
                    }
                };
                if let Err(e) = polled {
                    // A poll asks for every wait's ids: its failure ends only a wait whose
                    // own are not all final (the others poll again in their turn).
                    let done = waits.finished(ids);
                    if all_done(&done) {
                        return (done, None);
                    }
                    return (done, Some(e));
                }
            }
            let done = waits.finished(ids);
            if all_done(&done) {
                return (done, None);
            }
            delay = options.next_delay(delay);
        }
    }

    /// One poll of every process status a wait of this client needs: one id with
    /// `GET /shared/process-status/{id}`, more with the bulk request in chunks of
    /// [`BULK_PROCESS_STATUS_LIMIT`].
    async fn poll_waited(&self) -> Result<(), Error> {
        let waits = self.waits();
        let (poll, pending) = waits.start_poll();
        // Every wait looks at its ids when the poll ends, however it ends (failed, or
        // cancelled with its wait): those finished by an earlier chunk need not sleep on.
        let _round = Round(waits);
        let mut finished = 0;
        if let [id] = pending.as_slice() {
            // bol answers 404 for a status it no longer keeps (or does not know yet): as an
            // id left out of a bulk answer, it is asked for again until the deadline.
            let now = match self.get_process_status(id).await {
                Ok(mut now) => {
                    now.process_status_id.get_or_insert_with(|| id.clone());
                    vec![now]
                }
                Err(e) if e.status() == Some(404) => Vec::new(),
                Err(e) => return Err(e),
            };
            tracing::debug!(process_status_id = %id, answered = now.len(), "process status");
            finished += waits.record(poll, &pending, now);
        } else {
            for chunk in pending.chunks(BULK_PROCESS_STATUS_LIMIT) {
                let request = BulkProcessStatusRequest {
                    process_status_queries: chunk
                        .iter()
                        .map(|id| ProcessStatusId {
                            process_status_id: id.clone(),
                        })
                        .collect(),
                };
                let answer = self.get_process_status_bulk(&request).await?;
                finished += waits.record(poll, chunk, answer.process_statuses);
            }
        }
        tracing::debug!(asked = pending.len(), finished, "process statuses");
        Ok(())
    }
}

impl RetailerClient {
    /// bol pushed an outcome for process status `id` (a `PROCESS_STATUS` push
    /// notification): every wait of this client and its clones for that id polls at once
    /// instead of at its next back-off, so a change finishes when bol says it did. A wait
    /// that starts soon after (the push came first) polls at once too. The push only wakes
    /// the poll: the outcome is what bol then answers.
    pub fn process_status_arrived(&self, id: &str) {
        let id = id.trim();
        if !id.is_empty() {
            self.waits().arrived(id);
        }
    }
}

/// Ends a poll's round: every wait looks at its ids.
struct Round<'a>(&'a Waits);

impl Drop for Round<'_> {
    fn drop(&mut self) {
        self.0.rounds.send_modify(|n| *n += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default polls soon and backs off gently: under a second to the first poll,
    /// growth well under 2x, a cap of a few seconds.
    #[test]
    fn the_default_wait_polls_soon_and_backs_off_gently() {
        let o = WaitOptions::default();
        let mut delays = vec![o.first_delay];
        for _ in 0..8 {
            delays.push(o.next_delay(*delays.last().unwrap()));
        }
        let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 150, 225, 337, 506, 759, 1139, 1708, 2000]);
        // bol's "PENDING, then SUCCESS" on the third poll: seen after under half a second
        // (a peer polling every 0.2 s sees it after 0.6 s).
        assert!(delays[..3].iter().sum::<Duration>() < Duration::from_millis(500));
        let doubling = WaitOptions {
            growth_percent: 200,
            ..o
        };
        assert_eq!(
            doubling.next_delay(Duration::from_millis(300)),
            Duration::from_millis(600)
        );
        let never_shrinks = WaitOptions {
            growth_percent: 0,
            ..o
        };
        assert_eq!(
            never_shrinks.next_delay(Duration::from_millis(300)),
            Duration::from_millis(300)
        );
    }
}
