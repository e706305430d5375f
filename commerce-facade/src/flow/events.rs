//! Pushed events: what a channel tells as it happens (bol's push notifications), journaled
//! before they are answered, then acted on by the scheduler. An event only says that
//! something happened; the flow reads what it needs as it does when it polls:
//!
//! | event | what the flow does |
//! |---|---|
//! | a new order, an order changed (a buyer asks to cancel) | reads that order ([`SalesChannel::open_order`](commerce_core::SalesChannel::open_order)) and takes it as a listing would: a new order is claimed in the next pass, a cancellation request answered; not shown yet: looked for again for two minutes; a channel without that read: lists its open orders |
//! | a process status's outcome | tells the channel's client ([`SalesChannel::event_arrived`](commerce_core::SalesChannel::event_arrived)): a confirmation waiting for it reads it at once |
//! | anything else (a transport event, a test push) | kept, nothing to do |
//!
//! An event is marked handled once what it asked for is done, so a runner stopped in between
//! finds it again at its next start; every runner also looks at the journal's unhandled
//! events at each listing (an event another runner received and could not act on). Polling goes on beside the
//! events, less often while they arrive ([`FlowOptions::event_poll_interval`](super::FlowOptions::event_poll_interval)),
//! and a reconciliation pass catches what both missed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use commerce_core::ChannelEvent;

use super::schedule::Run;
use super::{Event, Flow};
use crate::journal::{EventRecord, JournalError};

/// The most unhandled events of a channel one look at the journal takes (the rest at the
/// next).
const EVENTS_AT_ONCE: usize = 200;

/// What wakes the scheduler.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    /// Wakes the orders' loop from its sleep.
    pub(crate) notify: tokio::sync::Notify,
    /// Events were journaled since the loop last looked.
    pub(crate) events: AtomicBool,
    /// The channels push their events (the listing is then only a fallback).
    pub(crate) push_active: AtomicBool,
}

/// Wakes a running flow ([`Flow::waker`]): clone it into a server that receives pushed
/// events.
#[derive(Debug, Clone)]
pub struct FlowWaker(Arc<Wake>);

impl FlowWaker {
    /// Wakes the scheduler: it looks at the journal's unhandled events at once.
    pub fn wake(&self) {
        self.0.events.store(true, Ordering::SeqCst);
        self.0.notify.notify_one();
    }

    /// Says whether the channels push their events (a subscription is enabled and its
    /// deliveries reach this process): while they do, the open orders are listed every
    /// [`FlowOptions::event_poll_interval`](super::FlowOptions::event_poll_interval) instead
    /// of every `poll_interval`.
    pub fn set_push_active(&self, active: bool) {
        self.0.push_active.store(active, Ordering::SeqCst);
        self.0.notify.notify_one();
    }
}

/// What the flow last did, for an operator's health check (`commerce serve`'s `/readyz`
/// and `/metrics`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowHealth {
    /// When every channel was last listed without a failure.
    pub last_listed: Option<DateTime<Utc>>,
    /// When the last reconciliation pass succeeded.
    pub last_reconciled: Option<DateTime<Utc>>,
    /// Whether the channels' events are pushed ([`FlowWaker::set_push_active`]).
    pub push_active: bool,
    /// Events this flow acted on since it started.
    pub events_handled: u64,
}

/// What the unhandled events ask of the scheduler.
#[derive(Debug, Default)]
pub(crate) struct Asked {
    /// Events to mark handled once the channels were listed (a channel that cannot read one
    /// order by its id).
    pub(crate) after_listing: Vec<String>,
    /// When to look at the events again: some could not be acted on yet (an order bol does
    /// not show yet, a read that failed), or more are waiting than one look takes.
    pub(crate) again_at: Option<DateTime<Utc>>,
}

/// How long an order a pushed event names may be missing from the channel's read before
/// the event is let go (bol may show an order a moment after it pushed it); the polling and
/// the reconciliation look for it afterwards.
const NOT_YET_SHOWN: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// How soon an event that could not be acted on is looked at again.
const LOOK_AGAIN: Duration = Duration::from_secs(15);

impl Asked {
    /// Looks again `after` from `now`, unless sooner already.
    fn look_again(&mut self, now: DateTime<Utc>, after: Duration) {
        let at = super::later(now, after);
        self.again_at = Some(self.again_at.map_or(at, |t| t.min(at)));
    }
}

impl Flow {
    /// A handle that wakes this flow when an event arrives ([`FlowWaker::wake`]).
    pub fn waker(&self) -> FlowWaker {
        FlowWaker(self.wake.clone())
    }

    /// What the flow last did, for a health check.
    pub fn health(&self) -> FlowHealth {
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner()).clone();
        health.push_active = self.push_active();
        health
    }

    pub(crate) fn push_active(&self) -> bool {
        self.wake.push_active.load(Ordering::SeqCst)
    }

    pub(crate) fn note_health(&self, change: impl FnOnce(&mut FlowHealth)) {
        change(&mut self.health.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Journals a pushed event (verified by the caller: its signature checked) and wakes
    /// the scheduler. `Ok(false)`: the journal already has it (a delivery made again): it is
    /// not acted on twice. Answer the channel only once this returned `Ok`: the event is then
    /// durable, and acted on even if this process stops now (at the next start).
    pub async fn receive_event(&self, event: EventRecord) -> Result<bool, JournalError> {
        let new = self.journal.add_event(&event).await?;
        if new {
            self.waker().wake();
        }
        Ok(new)
    }

    /// Whether events were journaled since the scheduler last looked (and forgets it).
    pub(crate) fn events_arrived(&self) -> bool {
        self.wake.events.swap(false, Ordering::SeqCst)
    }

    /// Acts on the unhandled events of every channel. An order's event reads that order
    /// ([`SalesChannel::open_order`](commerce_core::SalesChannel::open_order)) and takes it
    /// as a listing would (a new order enters the journal and is claimed in the next pass; a
    /// cancellation request is answered); a channel without that read lists its open orders
    /// instead ([`Asked::after_listing`]). A process status is told to its channel's client.
    /// The rest is kept. An event is marked handled once done; one that could not be acted
    /// on yet is looked at again ([`Asked::again_at`]).
    pub(super) async fn take_events(&self, run: &Mutex<Run>) -> Asked {
        let mut asked = Asked::default();
        let platforms = self.platforms();
        for channel in &self.providers.channels {
            let events = match self
                .journal
                .unhandled_events(channel.name(), EVENTS_AT_ONCE)
                .await
            {
                Ok(events) => events,
                Err(e) => {
                    self.fail("journal", "events", &e);
                    continue;
                }
            };
            if events.len() == EVENTS_AT_ONCE {
                asked.look_again(self.clock.now(), Duration::from_secs(1));
            }
            for event in events {
                if self.stopping() {
                    return asked;
                }
                let now = self.clock.now();
                let action = match event.channel_event() {
                    ChannelEvent::NewOrder { order_id } | ChannelEvent::OrderChanged { order_id } => {
                        match channel.open_order(&order_id).await {
                            Ok(Some(order)) => {
                                self.take_order(order, run, &platforms).await;
                                self.handled(&event.id, now).await;
                                "read, and taken as a listing takes it".to_owned()
                            }
                            Ok(None) if now - event.received_at < NOT_YET_SHOWN => {
                                asked.look_again(now, LOOK_AGAIN);
                                "not on the channel yet: looked for again shortly".to_owned()
                            }
                            Ok(None) => {
                                self.handled(&event.id, now).await;
                                "nothing of it to ship (or unknown to the channel): the listings and the \
                                 reconciliation look again"
                                    .to_owned()
                            }
                            Err(commerce_core::Error::Unsupported { .. }) => {
                                asked.after_listing.push(event.id.clone());
                                "listing the open orders now".to_owned()
                            }
                            Err(e) => {
                                self.fail(channel.name(), "pushed order", &e);
                                asked.look_again(now, LOOK_AGAIN);
                                format!("not read ({e}): looked at again shortly")
                            }
                        }
                    }
                    e @ ChannelEvent::ProcessStatus { .. } => {
                        channel.event_arrived(&e);
                        self.handled(&event.id, now).await;
                        "a wait for it reads it now".to_owned()
                    }
                    ChannelEvent::Other { .. } => {
                        self.handled(&event.id, now).await;
                        "nothing to do".to_owned()
                    }
                };
                self.emit(Event::Pushed {
                    channel: event.channel.clone(),
                    kind: event.kind.clone(),
                    resource_id: event.resource_id.clone(),
                    action,
                });
            }
        }
        asked
    }

    /// Marks an event handled (a failure is said; the event is then acted on again, which
    /// is harmless: a listing, a wake).
    pub(crate) async fn handled(&self, id: &str, at: DateTime<Utc>) {
        match self.journal.event_handled(id, at).await {
            Ok(()) => self.note_health(|h| h.events_handled += 1),
            Err(e) => self.fail("journal", "events", &e),
        }
    }
}
