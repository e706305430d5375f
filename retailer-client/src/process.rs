//! Waiting for bol's process statuses: most changes answer `202` with a process status
//! that moves from `PENDING` to `SUCCESS`, `FAILURE` or `TIMEOUT`. One at a time
//! (`GET /shared/process-status/{id}`), or many at once (`POST /shared/process-status`).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use commerce_core::{Delivery, Error, ProviderError, ValidationErrors};
use tokio::time::Instant;

use crate::client::{PROVIDER, RetailerClient};
use crate::generated::models::{BulkProcessStatusRequest, ProcessState, ProcessStatus, ProcessStatusId};

/// The most process status ids bol takes in one bulk request (`POST /shared/process-status`);
/// [`RetailerClient::wait_for_processes`] asks for more in chunks of this size.
pub const BULK_PROCESS_STATUS_LIMIT: usize = 1000;

/// How [`RetailerClient::wait_for_process`] and [`RetailerClient::wait_for_processes`] poll.
///
/// The default polls soon and backs off gently: bol finishes most process statuses within a
/// second or two ("PENDING, then SUCCESS"), so a first poll after 200 ms, each wait half as
/// long again as the one before (200, 300, 450, 675 ms, ...) up to 2 s, finds it done about
/// when it is, where doubling from a second slept 7 s to see a third poll. The client's
/// pacing keeps every poll within bol's rate limit for the endpoint whatever these say.
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
            first_delay: Duration::from_millis(200),
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

impl RetailerClient {
    /// Polls the process status until it is `SUCCESS`, `FAILURE` or `TIMEOUT` and returns it;
    /// waits grow from `first_delay` by `growth_percent` up to `max_delay`. Past the deadline it fails with
    /// [`Error::Timeout`] (the change may still happen at bol).
    pub async fn wait_for_process(
        &self,
        status: &ProcessStatus,
        options: WaitOptions,
    ) -> Result<ProcessStatus, Error> {
        if is_final(status) {
            return Ok(status.clone());
        }
        let id = status
            .process_status_id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::invalid("processStatusId", "the process status has no id to poll"))?;
        let started = Instant::now();
        let mut delay = options.first_delay;
        loop {
            let left = options.deadline.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(Error::Timeout {
                    provider: PROVIDER.name.into(),
                    endpoint: "process-status".into(),
                    after: options.deadline,
                    delivery: Delivery::MaybeSent,
                });
            }
            tokio::time::sleep(delay.min(left)).await;
            let now = self.get_process_status(&id).await?;
            tracing::debug!(process_status_id = %id, status = %now.status, "process status");
            if is_final(&now) {
                return Ok(now);
            }
            delay = options.next_delay(delay);
        }
    }

    /// Waits for many process statuses at once: polls the ones not yet final with bol's bulk
    /// request (`POST /shared/process-status`, at most [`BULK_PROCESS_STATUS_LIMIT`] ids per
    /// request, so more go in several requests a round) until every one is `SUCCESS`,
    /// `FAILURE` or `TIMEOUT`, and returns them in the order given.
    ///
    /// It waits as [`wait_for_process`](Self::wait_for_process) does: a first round after
    /// `first_delay`, waits growing by `growth_percent` up to `max_delay`, and past `deadline` it fails with
    /// [`Error::Timeout`] (the changes may still happen at bol; the statuses that did finish
    /// are not returned then). Statuses already final are returned as they are, without a
    /// request; an id given twice is asked for once. A `FAILURE` or `TIMEOUT` is returned,
    /// not an error: look at each status.
    ///
    /// The answers are read tolerantly: an id bol leaves out of an answer (bol keeps process
    /// statuses only for a while) is asked for again in the next round until the deadline,
    /// never dropped, and a status for an id not asked for is ignored. A status given without
    /// a `processStatusId` is refused before any request ([`Error::InvalidInput`] naming its
    /// index); a failed request ends the wait with its error.
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
        let mut latest = statuses.to_vec();
        // The ids still to poll, each once, in the order they first appear.
        let mut pending: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        let mut missing = ValidationErrors::new();
        for (i, status) in statuses.iter().enumerate() {
            if is_final(status) {
                continue;
            }
            match status.process_status_id.as_deref().filter(|id| !id.is_empty()) {
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
        let started = Instant::now();
        let mut delay = options.first_delay;
        while !pending.is_empty() {
            let left = options.deadline.saturating_sub(started.elapsed());
            if left.is_zero() {
                tracing::debug!(
                    pending = pending.len(),
                    "process statuses not final by the deadline"
                );
                return Err(Error::Timeout {
                    provider: PROVIDER.name.into(),
                    endpoint: "process-status".into(),
                    after: options.deadline,
                    delivery: Delivery::MaybeSent,
                });
            }
            tokio::time::sleep(delay.min(left)).await;
            let mut done: HashMap<String, ProcessStatus> = HashMap::new();
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
                let asked: HashSet<&str> = chunk.iter().map(String::as_str).collect();
                for now in answer.process_statuses {
                    let Some(id) = now.process_status_id.as_deref() else {
                        continue;
                    };
                    if asked.contains(id) && is_final(&now) {
                        done.insert(id.to_owned(), now);
                    }
                }
            }
            pending.retain(|id| !done.contains_key(id));
            tracing::debug!(finished = done.len(), pending = pending.len(), "process statuses");
            for status in latest.iter_mut().filter(|s| !is_final(s)) {
                if let Some(now) = status.process_status_id.as_deref().and_then(|id| done.get(id)) {
                    *status = now.clone();
                }
            }
            delay = options.next_delay(delay);
        }
        Ok(latest)
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
        let mut e = ProviderError::new(PROVIDER.name, format!("process-status {}", done.event_type), 200)
            .with_code(done.status.to_string());
        e.message = Some(
            done.error_message
                .clone()
                .unwrap_or_else(|| format!("{} ended in {}", done.description, done.status)),
        );
        Err(Error::from(e))
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
        assert_eq!(ms, [200, 300, 450, 675, 1012, 1518, 2000, 2000, 2000]);
        // bol's "PENDING, then SUCCESS" on the third poll: seen after under a second.
        assert!(delays[..3].iter().sum::<Duration>() < Duration::from_secs(1));
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
