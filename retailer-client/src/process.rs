//! Waiting for bol's process statuses: most changes answer `202` with a process status
//! that moves from `PENDING` to `SUCCESS`, `FAILURE` or `TIMEOUT`.

use std::time::Duration;

use commerce_core::{Delivery, Error, ProviderError};
use tokio::time::Instant;

use crate::client::{PROVIDER, RetailerClient};
use crate::generated::models::{ProcessStatus, ProcessStatusStatus};

/// How [`RetailerClient::wait_for_process`] polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// Give up after this long.
    pub deadline: Duration,
    /// The first wait between polls.
    pub first_delay: Duration,
    /// The longest wait between polls (waits double up to it).
    pub max_delay: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            deadline: Duration::from_secs(120),
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
        }
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
        ProcessStatusStatus::Success | ProcessStatusStatus::Failure | ProcessStatusStatus::Timeout
    )
}

impl RetailerClient {
    /// Polls the process status until it is `SUCCESS`, `FAILURE` or `TIMEOUT` and returns it;
    /// waits double from `first_delay` up to `max_delay`. Past the deadline it fails with
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
                    provider: PROVIDER.into(),
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
            delay = (delay * 2).min(options.max_delay);
        }
    }

    /// Like [`wait_for_process`](Self::wait_for_process), but a `FAILURE` or `TIMEOUT` is an
    /// error that carries bol's error message.
    pub async fn wait_for_success(
        &self,
        status: &ProcessStatus,
        options: WaitOptions,
    ) -> Result<ProcessStatus, Error> {
        let done = self.wait_for_process(status, options).await?;
        if done.status == ProcessStatusStatus::Success {
            return Ok(done);
        }
        let mut e = ProviderError::new(PROVIDER, format!("process-status {}", done.event_type), 200)
            .with_code(done.status.to_string());
        e.message = Some(
            done.error_message
                .clone()
                .unwrap_or_else(|| format!("{} ended in {}", done.description, done.status)),
        );
        Err(Error::from(e))
    }
}
