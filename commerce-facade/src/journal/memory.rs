//! A journal in memory, for tests and one-off runs: the same rules as the SQLite journal
//! (leases, due times, history), within one process.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::{
    Amendment, EventRecord, EventStats, HistoryEntry, Journal, JournalError, LeaseInfo, OfferRecord,
    OrderRecord, PassState, ReturnAmendment, ReturnRecord, pass_lost,
};

#[derive(Debug)]
struct Row {
    record: OrderRecord,
    lease: Option<(String, DateTime<Utc>)>,
    history: Vec<HistoryEntry>,
}

/// A journal in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    rows: Mutex<BTreeMap<String, Row>>,
    accounts: Mutex<BTreeMap<String, String>>,
    passes: Mutex<BTreeMap<String, PassState>>,
    /// Offers by (channel, offer id); their history is kept with the orders', by key.
    offers: Mutex<BTreeMap<(String, String), OfferRecord>>,
    offer_history: Mutex<BTreeMap<String, Vec<HistoryEntry>>>,
    /// Return records by key (their history with the offers').
    returns: Mutex<BTreeMap<String, ReturnRecord>>,
    /// Pushed events by id.
    events: Mutex<BTreeMap<String, EventRecord>>,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Row>> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn held<'a>(
        rows: &'a mut BTreeMap<String, Row>,
        runner: &str,
        key: &str,
    ) -> Result<&'a mut Row, JournalError> {
        match rows.get_mut(key) {
            Some(row) if row.lease.as_ref().is_some_and(|(r, _)| r == runner) => Ok(row),
            _ => Err(JournalError::LeaseLost { key: key.to_owned() }),
        }
    }
}

fn guard<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn note(by: &str, note: &str) -> HistoryEntry {
    HistoryEntry {
        at: Utc::now(),
        by: by.to_owned(),
        note: note.to_owned(),
    }
}

/// Every operation answers at once, without leaving the runtime (no thread, no
/// `spawn_blocking`): under tokio's paused time, no timer fires while an operation is under
/// way.
#[async_trait::async_trait]
impl Journal for MemoryJournal {
    async fn pass(&self, name: &str) -> Result<Option<PassState>, JournalError> {
        Ok(guard(&self.passes).get(name).cloned())
    }

    async fn claim_pass(
        &self,
        name: &str,
        runner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        force: bool,
    ) -> Result<bool, JournalError> {
        let mut passes = guard(&self.passes);
        let pass = passes.entry(name.to_owned()).or_insert_with(|| PassState {
            name: name.to_owned(),
            ..Default::default()
        });
        if !pass.may_claim(runner, now, force) {
            return Ok(false);
        }
        pass.lease = Some((runner.to_owned(), until));
        pass.last_started = Some(now);
        Ok(true)
    }

    async fn renew_pass(&self, name: &str, runner: &str, until: DateTime<Utc>) -> Result<(), JournalError> {
        match guard(&self.passes).get_mut(name) {
            Some(p) if p.lease.as_ref().is_some_and(|(r, _)| r == runner) => {
                p.lease = Some((runner.to_owned(), until));
                Ok(())
            }
            _ => Err(pass_lost(name)),
        }
    }

    async fn end_pass(
        &self,
        name: &str,
        runner: &str,
        now: DateTime<Utc>,
        next_due: DateTime<Utc>,
        summary: &str,
    ) -> Result<(), JournalError> {
        match guard(&self.passes).get_mut(name) {
            Some(p) if p.lease.as_ref().is_some_and(|(r, _)| r == runner) => {
                p.lease = None;
                p.next_due = Some(next_due);
                p.last_finished = Some(now);
                p.last_summary = Some(summary.to_owned());
                Ok(())
            }
            _ => Err(pass_lost(name)),
        }
    }

    async fn offers(&self) -> Result<Vec<OfferRecord>, JournalError> {
        Ok(guard(&self.offers).values().cloned().collect())
    }

    async fn save_offers(
        &self,
        pass: &str,
        runner: &str,
        records: &[(OfferRecord, Option<String>)],
    ) -> Result<(), JournalError> {
        // The pass's lock is held while writing, as one transaction would.
        let passes = guard(&self.passes);
        if passes
            .get(pass)
            .and_then(|p| p.lease.as_ref())
            .is_none_or(|(r, _)| r != runner)
        {
            return Err(pass_lost(pass));
        }
        let mut offers = guard(&self.offers);
        let mut history = guard(&self.offer_history);
        for (record, line) in records {
            offers.insert((record.channel.clone(), record.offer_id.clone()), record.clone());
            if let Some(line) = line {
                history.entry(record.key()).or_default().push(note(runner, line));
            }
        }
        Ok(())
    }

    async fn returns(&self) -> Result<Vec<ReturnRecord>, JournalError> {
        Ok(guard(&self.returns).values().cloned().collect())
    }

    async fn save_returns(
        &self,
        pass: &str,
        runner: &str,
        records: &[(ReturnRecord, Option<String>)],
    ) -> Result<(), JournalError> {
        // The pass's lock is held while writing, as one transaction would.
        let passes = guard(&self.passes);
        if passes
            .get(pass)
            .and_then(|p| p.lease.as_ref())
            .is_none_or(|(r, _)| r != runner)
        {
            return Err(pass_lost(pass));
        }
        let mut returns = guard(&self.returns);
        let mut history = guard(&self.offer_history);
        for (record, line) in records {
            returns.insert(record.key.clone(), record.clone());
            if let Some(line) = line {
                history
                    .entry(record.key.clone())
                    .or_default()
                    .push(note(runner, line));
            }
        }
        Ok(())
    }

    async fn amend_return(
        &self,
        pass: &str,
        key: &str,
        by: &str,
        now: DateTime<Utc>,
        change: ReturnAmendment<'_>,
    ) -> Result<ReturnRecord, JournalError> {
        let mut passes = guard(&self.passes);
        if let Some((runner, until)) = passes.get(pass).and_then(|p| p.lease.as_ref())
            && *until > now
        {
            return Err(JournalError::Busy {
                key: key.to_owned(),
                runner: runner.clone(),
                until: *until,
            });
        }
        let mut returns = guard(&self.returns);
        let Some(record) = returns.get(key) else {
            return Err(JournalError::NotFound(key.to_owned()));
        };
        let mut changed = record.clone();
        let line = change(&mut changed).map_err(JournalError::Refused)?;
        changed.due = None;
        // A lease that ended is taken from its runner, as the SQLite and PostgreSQL
        // journals take it: a runner that outlived it cannot write over the change.
        if let Some(p) = passes.get_mut(pass) {
            p.lease = None;
        }
        returns.insert(key.to_owned(), changed.clone());
        guard(&self.offer_history)
            .entry(key.to_owned())
            .or_default()
            .push(note(by, &line));
        Ok(changed)
    }

    async fn add_event(&self, event: &EventRecord) -> Result<bool, JournalError> {
        let mut events = guard(&self.events);
        if events.contains_key(&event.id) {
            return Ok(false);
        }
        events.insert(event.id.clone(), event.clone());
        Ok(true)
    }

    async fn unhandled_events(&self, channel: &str, limit: usize) -> Result<Vec<EventRecord>, JournalError> {
        let mut unhandled: Vec<EventRecord> = guard(&self.events)
            .values()
            .filter(|e| e.channel == channel && e.handled_at.is_none())
            .cloned()
            .collect();
        unhandled.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
        unhandled.truncate(limit);
        Ok(unhandled)
    }

    async fn event_handled(&self, id: &str, at: DateTime<Utc>) -> Result<(), JournalError> {
        if let Some(event) = guard(&self.events).get_mut(id) {
            event.handled_at.get_or_insert(at);
        }
        Ok(())
    }

    async fn event_stats(&self) -> Result<EventStats, JournalError> {
        let events = guard(&self.events);
        Ok(EventStats {
            received: events.len() as u64,
            unhandled: events.values().filter(|e| e.handled_at.is_none()).count() as u64,
            last_received: events.values().map(|e| e.received_at).max(),
        })
    }

    async fn purge_events(&self, before: DateTime<Utc>) -> Result<usize, JournalError> {
        let mut events = guard(&self.events);
        let was = events.len();
        events.retain(|_, e| e.handled_at.is_none_or(|at| at >= before));
        Ok(was - events.len())
    }

    async fn bind_account(&self, channel: &str, account: &str, replace: bool) -> Result<(), JournalError> {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        match accounts.get(channel) {
            Some(recorded) if recorded != account && !replace => Err(JournalError::OtherAccount {
                channel: channel.to_owned(),
                recorded: recorded.clone(),
                given: account.to_owned(),
            }),
            _ => {
                accounts.insert(channel.to_owned(), account.to_owned());
                Ok(())
            }
        }
    }

    async fn load(&self, key: &str) -> Result<Option<OrderRecord>, JournalError> {
        Ok(self.rows().get(key).map(|r| r.record.clone()))
    }

    async fn all(&self) -> Result<Vec<OrderRecord>, JournalError> {
        Ok(self.rows().values().map(|r| r.record.clone()).collect())
    }

    async fn add(&self, record: &OrderRecord) -> Result<bool, JournalError> {
        let mut rows = self.rows();
        if rows.contains_key(&record.key) {
            return Ok(false);
        }
        rows.insert(
            record.key.clone(),
            Row {
                record: record.clone(),
                lease: None,
                history: vec![note("flow", "seen on its channel")],
            },
        );
        Ok(true)
    }

    async fn claim(
        &self,
        runner: &str,
        channels: &[String],
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<OrderRecord>, JournalError> {
        let mut rows = self.rows();
        let free = rows
            .values_mut()
            .filter(|row| {
                row.record.is_open()
                    && channels.contains(&row.record.order.channel)
                    && row.record.due.is_none_or(|d| d <= now)
                    && row.lease.as_ref().is_none_or(|(_, u)| *u <= now)
            })
            // The furthest along first, then the soonest due.
            .min_by_key(|row| (std::cmp::Reverse(row.record.rank()), row.record.due));
        Ok(free.map(|row| {
            row.lease = Some((runner.to_owned(), until));
            row.record.clone()
        }))
    }

    async fn save(
        &self,
        runner: &str,
        until: DateTime<Utc>,
        record: &OrderRecord,
        text: &str,
    ) -> Result<(), JournalError> {
        let mut rows = self.rows();
        let row = Self::held(&mut rows, runner, &record.key)?;
        row.record = record.clone();
        row.lease = Some((runner.to_owned(), until));
        if !text.is_empty() {
            row.history.push(note(runner, text));
        }
        Ok(())
    }

    async fn renew(&self, key: &str, runner: &str, until: DateTime<Utc>) -> Result<(), JournalError> {
        let mut rows = self.rows();
        let row = Self::held(&mut rows, runner, key)?;
        row.lease = Some((runner.to_owned(), until));
        Ok(())
    }

    async fn release(&self, runner: &str, record: &OrderRecord, text: &str) -> Result<(), JournalError> {
        let mut rows = self.rows();
        let row = Self::held(&mut rows, runner, &record.key)?;
        row.record = record.clone();
        row.lease = None;
        if !text.is_empty() {
            row.history.push(note(runner, text));
        }
        Ok(())
    }

    async fn amend(
        &self,
        key: &str,
        by: &str,
        now: DateTime<Utc>,
        change: Amendment<'_>,
    ) -> Result<OrderRecord, JournalError> {
        let mut rows = self.rows();
        let row = rows
            .get_mut(key)
            .ok_or_else(|| JournalError::NotFound(key.to_owned()))?;
        if let Some((runner, until)) = &row.lease
            && *until > now
        {
            return Err(JournalError::Busy {
                key: key.to_owned(),
                runner: runner.clone(),
                until: *until,
            });
        }
        let mut record = row.record.clone();
        let text = change(&mut record).map_err(JournalError::Refused)?;
        record.due = None;
        row.record = record.clone();
        row.lease = None;
        row.history.push(note(by, &text));
        Ok(record)
    }

    async fn history(&self, key: &str) -> Result<Vec<HistoryEntry>, JournalError> {
        if let Some(offer) = guard(&self.offer_history).get(key) {
            return Ok(offer.clone());
        }
        Ok(self
            .rows()
            .get(key)
            .map(|r| r.history.clone())
            .unwrap_or_default())
    }

    async fn leases(&self, now: DateTime<Utc>) -> Result<Vec<LeaseInfo>, JournalError> {
        let mut leases: Vec<LeaseInfo> = self
            .rows()
            .iter()
            .filter_map(|(key, row)| {
                let (runner, until) = row.lease.as_ref()?;
                (*until > now).then(|| LeaseInfo {
                    key: key.clone(),
                    runner: runner.clone(),
                    until: *until,
                })
            })
            .collect();
        // By runner, then by order, as the SQLite and PostgreSQL journals give them.
        leases.sort_by(|a, b| (&a.runner, &a.key).cmp(&(&b.runner, &b.key)));
        Ok(leases)
    }

    async fn next_due(&self, channels: &[String]) -> Result<Option<DateTime<Utc>>, JournalError> {
        let rows = self.rows();
        let mut soonest: Option<DateTime<Utc>> = None;
        for row in rows.values() {
            let r = &row.record;
            if !r.is_open() || !channels.contains(&r.order.channel) {
                continue;
            }
            // A held order is due when its lease ends at the earliest.
            let at = match (&row.lease, r.due) {
                (Some((_, until)), Some(due)) => due.max(*until),
                (Some((_, until)), None) => *until,
                (None, due) => due.unwrap_or(DateTime::<Utc>::MIN_UTC),
            };
            soonest = Some(soonest.map_or(at, |s| s.min(at)));
        }
        Ok(soonest)
    }

    fn location(&self) -> String {
        "memory".into()
    }

    async fn purge_personal(&self, before: DateTime<Utc>) -> Result<usize, JournalError> {
        let now = Utc::now();
        let mut purged = 0;
        for row in self.rows().values_mut() {
            let r = &mut row.record;
            if r.purged_at.is_none() && r.closed_at().is_some_and(|at| at < before) {
                r.purge_personal(now);
                row.history.push(note("flow", "personal data purged"));
                purged += 1;
            }
        }
        Ok(purged)
    }
}
