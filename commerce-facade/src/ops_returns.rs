//! The operator's rules for a return item that waits for a person (`commerce resolve
//! return:bol:RMA …`, `commerce retry return:bol:RMA`): the announcement was made by hand,
//! the goods arrived, how to handle it on the channel, or leave it. Each change is one
//! journal transaction ([`Journal::amend_return`](crate::Journal::amend_return)), refused while a runner holds the
//! returns pass, and written to the item's history by [`OPERATOR`]. The person never calls
//! the channel: a handling they choose is sent by the next pass, journaled and settled as
//! the loop's own.

use chrono::Utc;
use commerce_core::{Announcement, Arrival, HandlingResult};

use crate::journal::{HandleDecision, JournalError, ReturnRecord, Step, returns_pass};
use crate::ops::{OPERATOR, Operator};

/// What an operator's `resolve` of a return item settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnDecision {
    /// The warehouse was told by hand (or has the announcement whose answer was lost),
    /// under `reference` where it gave one.
    Announced {
        /// The warehouse's reference of the announcement, if any.
        reference: Option<String>,
    },
    /// The goods arrived: `quantity` units, `condition` where they are not as sold
    /// (`damaged`).
    Received {
        /// Units that came back.
        quantity: u32,
        /// Their state, where not as sold.
        condition: Option<String>,
    },
    /// Handle it on the channel with this result and quantity (sent by the next pass).
    Handle {
        /// The result.
        result: HandlingResult,
        /// The quantity (1 to what the buyer sends back).
        quantity: u32,
    },
    /// The loop leaves it (handled on the channel's site, or not the shop's to handle).
    Leave,
}

/// Why an operator's change of a return item was refused (nothing was changed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReturnRefusal {
    /// The journal has no such return item.
    #[error("journal: no return {key} (keys look like return:bol:86123452; `commerce status` lists them)")]
    Unknown {
        /// The key given.
        key: String,
    },
    /// A runner holds the returns pass right now.
    #[error(
        "journal: the returns are being worked on by runner {runner} (lease until {until}); try again after"
    )]
    Busy {
        /// The runner.
        runner: String,
        /// Its lease's end.
        until: chrono::DateTime<Utc>,
    },
    /// The item is handled or left already.
    #[error("journal: {key} is {state} already")]
    Closed {
        /// The item.
        key: String,
        /// `completed` or `left`.
        state: &'static str,
    },
    /// A quantity outside 1 to what the buyer sends back.
    #[error("the quantity must be from 1 to {expected} (what the buyer sends back), not {given}")]
    Quantity {
        /// The quantity given.
        given: u32,
        /// What the buyer sends back.
        expected: u32,
    },
    /// A result that says the goods are back, for more units than came back.
    #[error(
        "only {received} came back: a result that says the goods are back takes at most {received}, not {given} (or choose CUSTOMER_KEEPS_PRODUCT_PAID)"
    )]
    MoreThanReceived {
        /// The quantity given.
        given: u32,
        /// What came back.
        received: u32,
    },
    /// A result that needs the goods back, before anyone said they arrived.
    #[error(
        "{result} says the goods are back, and nobody said they arrived: `--received N` first (or choose CUSTOMER_KEEPS_PRODUCT_PAID or STILL_APPROVED)"
    )]
    GoodsNotIn {
        /// The result asked for.
        result: HandlingResult,
    },
    /// A result the channel does not take.
    #[error("{result} is not a handling result the channel takes")]
    NotAResult {
        /// The result given.
        result: HandlingResult,
    },
    /// The announcement is done already.
    #[error("journal: {key} is announced already")]
    Announced {
        /// The item.
        key: String,
    },
    /// The handling was sent and its answer is being settled by the loop.
    #[error(
        "journal: the handling of {key} was sent and is being settled: wait for the next pass (`commerce show {key}`)"
    )]
    Handling {
        /// The item.
        key: String,
    },
    /// The journal failed.
    #[error(transparent)]
    Journal(JournalError),
}

impl<'a> Operator<'a> {
    /// Settles the return item `key` as `decision` says, with `reason` in its history.
    pub async fn resolve_return(
        &self,
        key: &str,
        decision: ReturnDecision,
        reason: Option<&str>,
    ) -> Result<ReturnRecord, ReturnRefusal> {
        let because = |text: String| match reason {
            Some(why) => format!("{text} ({why})"),
            None => text,
        };
        let now = Utc::now();
        self.amend_return(key, |r| {
            open(r)?;
            if r.handling == Step::Started {
                return Err(ReturnRefusal::Handling { key: r.key.clone() });
            }
            let note = match &decision {
                ReturnDecision::Announced { reference } => {
                    if r.announcement.is_done() {
                        return Err(ReturnRefusal::Announced { key: r.key.clone() });
                    }
                    let m = r.matched.clone().unwrap_or_default();
                    r.announcement = Step::Done(Announcement {
                        provider: if m.provider.is_empty() {
                            OPERATOR.to_owned()
                        } else {
                            m.provider.clone()
                        },
                        order_reference: m.reference.clone(),
                        rma_id: r.rma_id.clone(),
                        reference: reference.clone().filter(|x| !x.trim().is_empty()),
                        sku: None,
                        quantity: r.expected,
                        at: now,
                    });
                    matched_by_hand(r);
                    because(format!(
                        "resolved: announced by hand{}",
                        reference
                            .as_deref()
                            .map(|x| format!(" as {x}"))
                            .unwrap_or_default()
                    ))
                }
                ReturnDecision::Received { quantity, condition } => {
                    if *quantity > r.expected {
                        return Err(ReturnRefusal::Quantity {
                            given: *quantity,
                            expected: r.expected,
                        });
                    }
                    r.arrival = Some(Arrival::Received {
                        quantity: *quantity,
                        condition: condition.clone().filter(|c| !c.trim().is_empty()),
                        at: Some(now),
                    });
                    r.received_by = Some(OPERATOR.to_owned());
                    if !r.announcement.is_done() {
                        // The goods are in: whatever the announcement came to, it is moot.
                        r.announcement = Step::Done(Announcement {
                            provider: OPERATOR.to_owned(),
                            order_reference: String::new(),
                            rma_id: r.rma_id.clone(),
                            reference: None,
                            sku: None,
                            quantity: r.expected,
                            at: now,
                        });
                        matched_by_hand(r);
                    }
                    because(format!(
                        "resolved: received {quantity} of {}{}",
                        r.expected,
                        condition.as_deref().map(|c| format!(", {c}")).unwrap_or_default()
                    ))
                }
                ReturnDecision::Handle { result, quantity } => {
                    if matches!(result, HandlingResult::Other(_)) {
                        return Err(ReturnRefusal::NotAResult {
                            result: result.clone(),
                        });
                    }
                    if *quantity == 0 || *quantity > r.expected {
                        return Err(ReturnRefusal::Quantity {
                            given: *quantity,
                            expected: r.expected,
                        });
                    }
                    if result.needs_goods() && !r.received() {
                        return Err(ReturnRefusal::GoodsNotIn {
                            result: result.clone(),
                        });
                    }
                    // A result that says the goods are back, for no more than came back.
                    if let Some(received) = r.received_quantity().filter(|_| result.needs_goods())
                        && *quantity > received
                    {
                        return Err(ReturnRefusal::MoreThanReceived {
                            given: *quantity,
                            received,
                        });
                    }
                    r.decision = Some(HandleDecision {
                        result: result.clone(),
                        quantity: *quantity,
                        by: OPERATOR.to_owned(),
                    });
                    matched_by_hand(r);
                    because(format!(
                        "resolved: handle it on {} as {result} ×{quantity} (sent by the next pass)",
                        r.channel
                    ))
                }
                ReturnDecision::Leave => {
                    r.left = Some(because("left by an operator".to_owned()));
                    because("resolved: the loop leaves it".to_owned())
                }
            };
            r.attention = None;
            r.failures = 0;
            r.last_error = None;
            Ok(note)
        })
        .await
    }

    /// Works on the return item `key` at the next pass: clears its failures, its wait and
    /// its attention; an announcement whose answer was lost is sent again (the person
    /// checked that the warehouse did not get it).
    pub async fn retry_return(&self, key: &str) -> Result<ReturnRecord, ReturnRefusal> {
        self.amend_return(key, |r| {
            open(r)?;
            r.failures = 0;
            r.last_error = None;
            let mut note = "retry asked by an operator".to_owned();
            // Sent again only where the look-up could not tell and the person checked; a
            // step that kept failing is looked up again, never resent blindly.
            let unknown = std::mem::take(&mut r.announcement_unknown);
            if r.attention.take().is_some() && unknown && r.announcement == Step::Started {
                r.announcement = Step::NotStarted;
                note.push_str(": the announcement is sent again");
            }
            if matches!(r.arrival, Some(Arrival::Unknown)) {
                r.arrival = None;
            }
            Ok(note)
        })
        .await
    }

    async fn amend_return(
        &self,
        key: &str,
        mut change: impl FnMut(&mut ReturnRecord) -> Result<String, ReturnRefusal> + Send,
    ) -> Result<ReturnRecord, ReturnRefusal> {
        let channel = key.split(':').nth(1).unwrap_or_default();
        let pass = returns_pass(channel);
        let mut refused = None;
        let result = self
            .journal()
            .amend_return(&pass, key, OPERATOR, Utc::now(), &mut |r| match change(r) {
                Ok(text) => {
                    refused = None;
                    Ok(text)
                }
                Err(refusal) => {
                    let text = refusal.to_string();
                    refused = Some(refusal);
                    Err(text)
                }
            })
            .await;
        match result {
            Ok(r) => Ok(r),
            Err(JournalError::Refused(_)) if refused.is_some() => Err(refused.expect("checked")),
            Err(JournalError::NotFound(key)) => Err(ReturnRefusal::Unknown { key }),
            Err(JournalError::Busy { runner, until, .. }) => Err(ReturnRefusal::Busy { runner, until }),
            Err(e) => Err(ReturnRefusal::Journal(e)),
        }
    }
}

/// Where the loop found no order, a person's decision stands for the match: the record goes
/// on as one a person answers for (no warehouse is asked).
fn matched_by_hand(r: &mut ReturnRecord) {
    if r.matched.is_none() {
        let order_key = format!("{}:{}", r.channel, r.order_id);
        r.matched = Some(crate::journal::ReturnMatch {
            part_key: order_key.clone(),
            order_key,
            provider: OPERATOR.to_owned(),
            ..Default::default()
        });
    }
}

fn open(r: &ReturnRecord) -> Result<(), ReturnRefusal> {
    if r.completed_at.is_some() {
        return Err(ReturnRefusal::Closed {
            key: r.key.clone(),
            state: "completed",
        });
    }
    if r.left.is_some() {
        return Err(ReturnRefusal::Closed {
            key: r.key.clone(),
            state: "left",
        });
    }
    Ok(())
}
