//! The order-to-review flow: open orders from every sales channel → submitted to a
//! fulfilment provider that has the stock → followed until shipped → the shipment
//! confirmed on the channel with its tracking code → review invitations on every platform.
//!
//! Every step of every order is written to the [`Journal`] before and after it runs. A
//! rerun resumes where it stopped: a finished step is never done again, and a step whose
//! outcome is unknown (it started, and then the process died or the answer was lost) is
//! settled first — by looking the submission up where the provider can, by calls that are
//! safe to repeat (bol re-reads the order before confirming; Safe.Shop refuses a second
//! invite), and otherwise by stopping the order for a person to check, never by guessing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use commerce_core::{
    Error, Fulfilment, FulfilmentState, InvitationReceipt, Order, ProductRef, ReviewInvitation,
    ReviewPlatform, SalesChannel, ShipmentConfirmation, SubmissionReceipt, Tracking,
};
use futures_util::StreamExt;

use crate::journal::{Journal, OrderRecord, Step};

/// The providers the flow composes, as shared trait objects.
#[derive(Clone, Default)]
pub struct Providers {
    /// Where orders come from.
    pub channels: Vec<Arc<dyn SalesChannel>>,
    /// Who ships them, tried in this order when routing.
    pub fulfilment: Vec<Arc<dyn Fulfilment>>,
    /// Who asks for reviews.
    pub reviews: Vec<Arc<dyn ReviewPlatform>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field(
                "channels",
                &self
                    .channels
                    .iter()
                    .map(|c| c.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field(
                "fulfilment",
                &self
                    .fulfilment
                    .iter()
                    .map(|c| c.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field(
                "reviews",
                &self
                    .reviews
                    .iter()
                    .map(|c| c.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Providers {
    /// No providers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sales channel.
    pub fn channel(mut self, channel: impl SalesChannel + 'static) -> Self {
        self.channels.push(Arc::new(channel));
        self
    }

    /// Adds a fulfilment provider.
    pub fn fulfilment(mut self, fulfilment: impl Fulfilment + 'static) -> Self {
        self.fulfilment.push(Arc::new(fulfilment));
        self
    }

    /// Adds a review platform.
    pub fn review_platform(mut self, platform: impl ReviewPlatform + 'static) -> Self {
        self.reviews.push(Arc::new(platform));
        self
    }
}

/// How the flow runs.
#[derive(Debug, Clone)]
pub struct FlowOptions {
    /// Orders worked on at once.
    pub concurrency: usize,
    /// Wait between status reads while an order is not shipped yet.
    pub poll_interval: Duration,
    /// Status reads per run before an order is left for the next run.
    pub max_polls: u32,
    /// EAN → fulfilment provider name, consulted before stock when routing.
    pub routes: HashMap<String, String>,
    /// Send a create again when its outcome is unknown and the provider offers no look-up.
    /// Off by default: only right where failures are known to happen before the provider
    /// acts (the sandbox's faults do), since otherwise it risks a duplicate.
    pub resend_unconfirmed: bool,
    /// Stop cleanly after this many finished steps (tests of resuming; `None`: run on).
    pub stop_after_steps: Option<usize>,
    /// How long the personal fields (names, addresses, e-mail addresses, phones) of a
    /// completed order are kept in the journal; each run purges older ones, keeping ids,
    /// steps and references. Default 30 days.
    pub retain_personal_data: Duration,
}

impl Default for FlowOptions {
    fn default() -> Self {
        FlowOptions {
            concurrency: 4,
            poll_interval: Duration::from_secs(60),
            max_polls: 60,
            routes: HashMap::new(),
            resend_unconfirmed: false,
            stop_after_steps: None,
            retain_personal_data: Duration::from_secs(30 * 86_400),
        }
    }
}

/// What happened, as it happens.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// An order to work on.
    Seen {
        /// `channel:order id`.
        key: String,
        /// Lines to ship.
        lines: usize,
    },
    /// A fulfilment provider was chosen.
    Routed {
        /// The order.
        key: String,
        /// The provider.
        provider: String,
    },
    /// Handed over for shipping.
    Submitted {
        /// The order.
        key: String,
        /// The provider's receipt.
        receipt: SubmissionReceipt,
    },
    /// Shipped.
    Shipped {
        /// The order.
        key: String,
        /// Its tracking.
        tracking: Tracking,
    },
    /// The shipment was confirmed on the channel.
    Confirmed {
        /// The order.
        key: String,
        /// The channel's reference.
        reference: Option<String>,
    },
    /// A review invitation went out.
    Invited {
        /// The order.
        key: String,
        /// The platform's receipt.
        receipt: InvitationReceipt,
    },
    /// Every step is done.
    Completed {
        /// The order.
        key: String,
    },
    /// A step failed; the order is picked up again by the next run.
    Failed {
        /// The order (or the channel, when listing failed).
        key: String,
        /// The step.
        step: String,
        /// Why.
        error: String,
    },
    /// The order waits for a person: the flow will not guess.
    Attention {
        /// The order.
        key: String,
        /// Why, and what to check.
        reason: String,
    },
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Orders worked on.
    pub orders_seen: usize,
    /// Handed over for shipping in this run.
    pub submitted: usize,
    /// Found shipped in this run.
    pub shipped: usize,
    /// Confirmed on their channel in this run.
    pub confirmed: usize,
    /// Invitations sent in this run, by platform.
    pub invitations: BTreeMap<String, usize>,
    /// Orders with every step done.
    pub completed: usize,
    /// Failures: `(order, step, error)`.
    pub failures: Vec<(String, String, String)>,
    /// Orders waiting for a person: `(order, reason)`.
    pub attention: Vec<(String, String)>,
    /// Orders left unfinished for the next run (not shipped yet, or interrupted).
    pub pending: usize,
    /// Whether the run was stopped before it finished.
    pub interrupted: bool,
    /// Completed orders whose personal fields were purged in this run.
    pub purged: usize,
    /// How long it took.
    pub elapsed: Duration,
}

impl Summary {
    /// Whether nothing failed and nothing waits for a person.
    pub fn is_clean(&self) -> bool {
        self.failures.is_empty() && self.attention.is_empty()
    }
}

/// Ends an order's work in this run.
enum Halt {
    Stopped,
    Pending,
    Failed(String, Error),
    Attention(String),
}

type Observer = Arc<dyn Fn(&Event) + Send + Sync>;

/// The flow over some providers and a journal.
pub struct Flow {
    providers: Providers,
    journal: Arc<dyn Journal>,
    options: FlowOptions,
    observer: Observer,
    stop: Arc<AtomicBool>,
    steps: Arc<AtomicUsize>,
    summary: Mutex<Summary>,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow")
            .field("providers", &self.providers)
            .field("journal", &self.journal)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Stops a running flow cleanly: each order finishes its current step and stops.
#[derive(Debug, Clone)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// Asks the flow to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Flow {
    /// A flow over `providers`, keeping its records in `journal`.
    pub fn new(providers: Providers, journal: Arc<dyn Journal>, options: FlowOptions) -> Self {
        Flow {
            providers,
            journal,
            options,
            observer: Arc::new(|_| {}),
            stop: Arc::new(AtomicBool::new(false)),
            steps: Arc::new(AtomicUsize::new(0)),
            summary: Mutex::new(Summary::default()),
        }
    }

    /// Calls `observer` with every event as it happens.
    pub fn observe(mut self, observer: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.observer = Arc::new(observer);
        self
    }

    /// A handle that stops the flow cleanly (for Ctrl-C).
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.stop.clone())
    }

    fn emit(&self, event: Event) {
        (self.observer)(&event);
    }

    fn summary(&self) -> std::sync::MutexGuard<'_, Summary> {
        self.summary.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn platforms(&self) -> Vec<String> {
        self.providers
            .reviews
            .iter()
            .map(|p| p.name().to_owned())
            .collect()
    }

    /// Counts a finished step: `Err(Halt::Stopped)` when the flow must stop now (a stop was
    /// asked for, or `stop_after_steps` is reached), otherwise `Ok` to go on.
    fn step_finished(&self) -> Result<(), Halt> {
        let n = self.steps.fetch_add(1, Ordering::SeqCst) + 1;
        if self.options.stop_after_steps.is_some_and(|max| n >= max) {
            self.stop.store(true, Ordering::SeqCst);
        }
        if self.stop.load(Ordering::SeqCst) {
            Err(Halt::Stopped)
        } else {
            Ok(())
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn save(&self, record: &OrderRecord) -> Result<(), Halt> {
        self.journal
            .save(record)
            .map_err(|e| Halt::Failed("journal".into(), e))
    }

    /// Runs the flow once over every open order and every unfinished order of the journal.
    pub async fn run(&self) -> Summary {
        let started = Instant::now();
        *self.summary() = Summary::default();
        let platforms = self.platforms();
        let mut work: Vec<OrderRecord> = Vec::new();
        let mut keys = HashSet::new();
        // Unfinished orders from earlier runs first.
        match self.journal.all() {
            Ok(records) => {
                for r in records {
                    let known_channel = self
                        .providers
                        .channels
                        .iter()
                        .any(|c| c.name() == r.order.channel);
                    if known_channel && !r.is_complete(&platforms) && keys.insert(r.key.clone()) {
                        work.push(r);
                    }
                }
            }
            Err(e) => self.fail("journal", "load", &e),
        }
        for channel in &self.providers.channels {
            let mut orders = channel.open_orders();
            while let Some(order) = orders.next().await {
                match order {
                    Ok(order) => {
                        let key = format!("{}:{}", order.channel, order.id);
                        if keys.insert(key.clone()) {
                            match self.journal.load(&key) {
                                Ok(Some(r)) if r.is_complete(&platforms) => {}
                                Ok(Some(r)) => work.push(r),
                                Ok(None) => work.push(OrderRecord::new(order)),
                                Err(e) => self.fail(&key, "journal", &e),
                            }
                        }
                    }
                    Err(e) => {
                        self.fail(channel.name(), "open orders", &e);
                        break;
                    }
                }
            }
        }
        self.summary().orders_seen = work.len();
        futures_util::stream::iter(work)
            .for_each_concurrent(self.options.concurrency.max(1), |record| async move {
                let key = record.key.clone();
                match self.process(record).await {
                    Ok(()) => {
                        self.summary().completed += 1;
                        self.emit(Event::Completed { key });
                    }
                    Err(Halt::Stopped) => {
                        let mut s = self.summary();
                        s.pending += 1;
                        s.interrupted = true;
                    }
                    Err(Halt::Pending) => self.summary().pending += 1,
                    Err(Halt::Failed(step, e)) => self.fail(&key, &step, &e),
                    Err(Halt::Attention(reason)) => {
                        self.summary().attention.push((key.clone(), reason.clone()));
                        self.emit(Event::Attention { key, reason });
                    }
                }
            })
            .await;
        // Personal data of orders completed long enough ago leaves the journal.
        let keep =
            chrono::Duration::from_std(self.options.retain_personal_data).unwrap_or(chrono::Duration::MAX);
        if let Some(before) = chrono::Utc::now().checked_sub_signed(keep) {
            match self.journal.purge_personal(before) {
                Ok(n) => self.summary().purged = n,
                Err(e) => self.fail("journal", "purge", &e),
            }
        }
        let mut summary = self.summary().clone();
        summary.interrupted |= self.stopping();
        summary.elapsed = started.elapsed();
        summary
    }

    fn fail(&self, key: &str, step: &str, error: &Error) {
        self.summary()
            .failures
            .push((key.to_owned(), step.to_owned(), error.to_string()));
        self.emit(Event::Failed {
            key: key.to_owned(),
            step: step.to_owned(),
            error: error.to_string(),
        });
    }

    async fn process(&self, mut r: OrderRecord) -> Result<(), Halt> {
        if let Some(reason) = &r.attention {
            return Err(Halt::Attention(reason.clone()));
        }
        self.emit(Event::Seen {
            key: r.key.clone(),
            lines: r.order.lines.len(),
        });
        if r.fulfilment.is_none() {
            self.save(&r)?;
        }
        let fulfilment = self.route(&mut r).await?;
        self.submit(&mut r, &fulfilment).await?;
        self.await_shipment(&mut r, &fulfilment).await?;
        self.confirm(&mut r).await?;
        for platform in self.providers.reviews.clone() {
            self.invite(&mut r, &platform).await?;
        }
        if r.completed_at.is_none() {
            r.completed_at = Some(chrono::Utc::now());
            self.save(&r)?;
        }
        Ok(())
    }

    fn check_stop(&self) -> Result<(), Halt> {
        if self.stopping() {
            Err(Halt::Stopped)
        } else {
            Ok(())
        }
    }

    async fn route(&self, r: &mut OrderRecord) -> Result<Arc<dyn Fulfilment>, Halt> {
        if let Some(name) = &r.fulfilment {
            return self
                .providers
                .fulfilment
                .iter()
                .find(|f| f.name() == name)
                .cloned()
                .ok_or_else(|| {
                    Halt::Attention(format!("routed to {name}, which is not configured in this run"))
                });
        }
        self.check_stop()?;
        let eans: Vec<String> = r.order.lines.iter().filter_map(|l| l.ean.clone()).collect();
        // A mapping the user supplied wins.
        let mapped: HashSet<&String> = eans.iter().filter_map(|e| self.options.routes.get(e)).collect();
        let chosen = if mapped.len() == 1 && eans.iter().all(|e| self.options.routes.contains_key(e)) {
            let name = mapped.into_iter().next().expect("one");
            self.providers
                .fulfilment
                .iter()
                .find(|f| f.name() == name)
                .cloned()
        } else {
            let mut found = None;
            for f in &self.providers.fulfilment {
                let levels = f
                    .stock(&eans)
                    .await
                    .map_err(|e| Halt::Failed("route".into(), e))?;
                let covers = r.order.lines.iter().all(|line| {
                    line.ean.as_ref().is_some_and(|ean| {
                        levels
                            .iter()
                            .filter(|l| l.ean.as_deref() == Some(ean.as_str()))
                            .map(|l| l.available)
                            .sum::<i64>()
                            >= i64::from(line.quantity)
                    })
                });
                if covers {
                    found = Some(f.clone());
                    break;
                }
            }
            found
        };
        let Some(f) = chosen else {
            return Err(Halt::Attention(format!(
                "no fulfilment provider has stock for every line ({})",
                eans.join(", ")
            )));
        };
        r.fulfilment = Some(f.name().to_owned());
        self.save(r)?;
        self.emit(Event::Routed {
            key: r.key.clone(),
            provider: f.name().to_owned(),
        });
        self.step_finished()?;
        Ok(f)
    }

    async fn submit(&self, r: &mut OrderRecord, f: &Arc<dyn Fulfilment>) -> Result<(), Halt> {
        if r.submission.is_done() {
            return Ok(());
        }
        self.check_stop()?;
        if r.submission == Step::Started {
            // An earlier attempt's outcome is unknown: settle it before anything else.
            match f.find_submission(&r.order.id).await {
                Ok(Some(receipt)) => return self.submitted(r, receipt),
                Ok(None) => {}
                Err(Error::Unsupported { .. }) if self.options.resend_unconfirmed => {}
                Err(Error::Unsupported { .. }) => {
                    return self.attention(
                        r,
                        format!(
                            "{} may have received order {} (its outcome was lost) and offers no look-up: \
                             check the {} dashboard, then clear or finish this order",
                            f.name(),
                            r.order.id,
                            f.name()
                        ),
                    );
                }
                Err(e) => return Err(Halt::Failed("submit".into(), e)),
            }
        }
        r.submission = Step::Started;
        self.save(r)?;
        match f.submit(&r.order).await {
            Ok(receipt) => self.submitted(r, receipt),
            Err(e) if e.is_unconfirmed() => {
                // Stays Started: the next run settles it (this run goes on with others).
                Err(Halt::Failed("submit".into(), e))
            }
            Err(e) => {
                r.submission = Step::NotStarted;
                self.save(r)?;
                Err(Halt::Failed("submit".into(), e))
            }
        }
    }

    fn submitted(&self, r: &mut OrderRecord, receipt: SubmissionReceipt) -> Result<(), Halt> {
        r.submission = Step::Done(receipt.clone());
        self.save(r)?;
        self.summary().submitted += 1;
        self.emit(Event::Submitted {
            key: r.key.clone(),
            receipt,
        });
        self.step_finished()
    }

    fn attention(&self, r: &mut OrderRecord, reason: String) -> Result<(), Halt> {
        r.attention = Some(reason.clone());
        self.save(r)?;
        Err(Halt::Attention(reason))
    }

    async fn await_shipment(&self, r: &mut OrderRecord, f: &Arc<dyn Fulfilment>) -> Result<(), Halt> {
        if r.shipped.is_done() {
            return Ok(());
        }
        let reference = r
            .submission
            .done()
            .map(|s| s.reference.clone())
            .unwrap_or_default();
        for poll in 0..self.options.max_polls.max(1) {
            self.check_stop()?;
            if poll > 0 {
                tokio::time::sleep(self.options.poll_interval).await;
            }
            let status = match f.status(&reference).await {
                Ok(s) => s,
                Err(e) if e.is_retryable() => continue,
                Err(e) => return Err(Halt::Failed("status".into(), e)),
            };
            match status.state {
                FulfilmentState::Shipped => {
                    let Some(tracking) = status.shipments.iter().find_map(|s| s.tracking.clone()) else {
                        continue;
                    };
                    r.shipped = Step::Done(tracking.clone());
                    self.save(r)?;
                    self.summary().shipped += 1;
                    self.emit(Event::Shipped {
                        key: r.key.clone(),
                        tracking,
                    });
                    return self.step_finished();
                }
                FulfilmentState::Cancelled | FulfilmentState::Failed => {
                    return self
                        .attention(r, format!("{} reports the order as {:?}", f.name(), status.state));
                }
                _ => {}
            }
        }
        Err(Halt::Pending)
    }

    async fn confirm(&self, r: &mut OrderRecord) -> Result<(), Halt> {
        if r.confirmation.is_done() {
            return Ok(());
        }
        self.check_stop()?;
        let channel = self
            .providers
            .channels
            .iter()
            .find(|c| c.name() == r.order.channel)
            .cloned()
            .ok_or_else(|| Halt::Attention(format!("the channel {} is not configured", r.order.channel)))?;
        let tracking = r.shipped.done().cloned().unwrap_or_default();
        // Channels check before confirming (see SalesChannel::confirm_shipment), so a
        // Started confirmation is simply asked again.
        r.confirmation = Step::Started;
        self.save(r)?;
        let confirmation = ShipmentConfirmation {
            order_id: r.order.id.clone(),
            line_ids: r.order.lines.iter().map(|l| l.line_id.clone()).collect(),
            tracking,
        };
        match channel.confirm_shipment(&confirmation).await {
            Ok(receipt) => {
                r.confirmation = Step::Done(receipt.reference.clone());
                self.save(r)?;
                self.summary().confirmed += 1;
                self.emit(Event::Confirmed {
                    key: r.key.clone(),
                    reference: receipt.reference,
                });
                self.step_finished()
            }
            Err(e) => Err(Halt::Failed("confirm".into(), e)),
        }
    }

    async fn invite(&self, r: &mut OrderRecord, platform: &Arc<dyn ReviewPlatform>) -> Result<(), Halt> {
        let name = platform.name().to_owned();
        let state = r.invitations.get(&name).cloned().unwrap_or_default();
        if state.is_done() {
            return Ok(());
        }
        self.check_stop()?;
        let o = &r.order;
        let invitation = ReviewInvitation {
            order_id: o.id.clone(),
            customer: o.customer.clone(),
            products: o
                .lines
                .iter()
                .map(|l| ProductRef {
                    sku: l.sku.clone().or_else(|| l.ean.clone()).unwrap_or_default(),
                    ean: l.ean.clone(),
                    name: Some(l.title.clone()).filter(|t| !t.is_empty()),
                })
                .collect(),
            send_at: None,
            country: Some(o.shipping_address.country.clone()).filter(|c| !c.is_empty()),
            ordered_at: o.placed_at,
        };
        // An invitation of several calls (Sitejabber's review request, then its product
        // review request): each call is its own step, `platform/part`, so a rerun never
        // repeats one that went through. The platform's own step is done with the last.
        let parts = platform.invitation_parts(&invitation);
        let prefix = format!("{name}/");
        let legacy_started = state == Step::Started && !r.invitations.keys().any(|k| k.starts_with(&prefix));
        if !parts.is_empty()
            && legacy_started
            && !platform.repeatable_invites()
            && !self.options.resend_unconfirmed
        {
            // Started by a release that sent the parts as one step: which went out is unknown.
            return self.attention(
                r,
                format!(
                    "{name} may have received the invitation for order {} (its outcome was lost) and offers \
                     no look-up: check it there, then clear or finish this order",
                    r.order.id
                ),
            );
        }
        let steps: Vec<(String, Option<String>)> = if parts.is_empty() {
            vec![(name.clone(), None)]
        } else {
            parts
                .into_iter()
                .map(|part| (format!("{name}/{part}"), Some(part)))
                .collect()
        };
        let mut combined: Option<InvitationReceipt> = None;
        for (step, part) in steps {
            let state = r.invitations.get(&step).cloned().unwrap_or_default();
            let receipt = match state {
                Step::Done(receipt) => receipt,
                Step::Started if !platform.repeatable_invites() && !self.options.resend_unconfirmed => {
                    return self.attention(
                        r,
                        format!(
                            "{step} may have received the invitation for order {} (its outcome was lost) and \
                             offers no look-up: check it there, then clear or finish this order",
                            r.order.id
                        ),
                    );
                }
                _ => {
                    self.check_stop()?;
                    r.invitations.insert(step.clone(), Step::Started);
                    self.save(r)?;
                    let sent = match &part {
                        Some(part) => platform.invite_part(part, &invitation).await,
                        None => platform.invite(&invitation).await,
                    };
                    match sent {
                        Ok(receipt) => {
                            r.invitations.insert(step.clone(), Step::Done(receipt.clone()));
                            self.save(r)?;
                            receipt
                        }
                        Err(e) if e.is_unconfirmed() => {
                            return Err(Halt::Failed(format!("invite {step}"), e));
                        }
                        Err(e) => {
                            r.invitations.insert(step.clone(), Step::NotStarted);
                            self.save(r)?;
                            return Err(Halt::Failed(format!("invite {step}"), e));
                        }
                    }
                }
            };
            combined = Some(match combined {
                None => receipt,
                Some(mut first) => {
                    first.already_invited &= receipt.already_invited;
                    first
                }
            });
        }
        let receipt = combined.expect("at least one step");
        r.invitations.insert(name.clone(), Step::Done(receipt.clone()));
        self.save(r)?;
        *self.summary().invitations.entry(name).or_default() += 1;
        self.emit(Event::Invited {
            key: r.key.clone(),
            receipt,
        });
        self.step_finished()
    }

    /// Every record of the journal (for reports).
    pub fn records(&self) -> Result<Vec<OrderRecord>, Error> {
        self.journal.all()
    }

    /// The orders of `orders` with every step done, as the journal has them.
    pub fn completed(&self, orders: &[Order]) -> usize {
        let platforms = self.platforms();
        orders
            .iter()
            .filter(|o| {
                self.journal
                    .load(&format!("{}:{}", o.channel, o.id))
                    .ok()
                    .flatten()
                    .is_some_and(|r| r.is_complete(&platforms))
            })
            .count()
    }
}
