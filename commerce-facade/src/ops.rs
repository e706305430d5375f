//! The operator's rules: how a person settles an order that waits for one (`resolve`: it
//! was submitted, a step was done by hand, or the flow leaves it), works on it again
//! (`retry`), or undoes a resolve (`reopen`). Each change is one journal transaction,
//! refused while a runner holds the order, and written to the order's history by
//! [`OPERATOR`]; each refusal is a [`Refusal`] naming its reason, its text the message a
//! person reads.
//!
//! A front end (the `commerce` command line, a web page) parses what the person asked,
//! calls an [`Operator`] and shows the [`Outcome`] or the [`Refusal`]; it needs to know no
//! provider by name.

use chrono::{DateTime, Utc};
use commerce_core::{InvitationReceipt, ReferenceCheck, Role, SubmissionReceipt};

use crate::journal::{Journal, JournalError, OrderRecord, Resolution, Step, StepState};
use crate::{PROVIDERS, Providers};

/// Who changes an order through an [`Operator`], in its history.
pub const OPERATOR: &str = "operator";

/// What an operator's `resolve` settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The fulfilment provider has the order under `reference`: the submission is done.
    Submitted {
        /// The provider's reference of the order.
        reference: String,
        /// The fulfilment provider that has it; `None`: the one the order was routed to.
        provider: Option<String>,
        /// Take `reference` without reading it at the provider.
        force: bool,
    },
    /// A step done by hand: `confirm`, or an invitation step (a review platform's name, or
    /// `platform/part` for an invitation of several calls).
    SkipStep(String),
    /// The flow leaves the order for good (nothing is cancelled at any provider).
    Cancel,
}

/// What an operation left: the order as written, and the note added to its history.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The order after the change.
    pub record: OrderRecord,
    /// The note in its history.
    pub note: String,
}

/// Which operation was refused, where a reason reads differently for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// [`Operator::retry`].
    Retry,
    /// [`Operator::reopen`].
    Reopen,
}

/// Why an operator's change was refused (nothing was changed). Its text is the message for
/// the person who asked; [`Refusal::is_usage`] tells a request that names something that
/// is not there (a blank reference, an unknown provider) from one that does not fit the
/// order.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The journal has no such order. `looked_up`: found missing when it was read to check
    /// a reference, before any change (the text then shows what a key looks like).
    #[error("{}", unknown_order(.key, .looked_up))]
    UnknownOrder {
        /// The key given.
        key: String,
        /// Whether it was read before the change.
        looked_up: bool,
    },
    /// A runner holds the order right now (its lease has not ended).
    #[error("journal: {key} is being worked on by runner {runner} (lease until {until}); try again after")]
    Leased {
        /// The order.
        key: String,
        /// The runner holding it.
        runner: String,
        /// Its lease's end.
        until: DateTime<Utc>,
    },
    /// The reference given is blank (or otherwise not a reference).
    #[error("--submitted: {0}")]
    BadReference(Box<commerce_core::Error>),
    /// The provider named is not a fulfilment provider of this build (a typo).
    #[error("--provider `{provider}` is not a fulfilment provider of this build: give one of {}", .known.join(", "))]
    UnknownProvider {
        /// The name given.
        provider: String,
        /// The fulfilment providers of this build.
        known: Vec<String>,
    },
    /// The order was not routed and no provider was named.
    #[error("the order was not routed: give --provider NAME")]
    NotRouted,
    /// The provider's variables are not set here, so the reference cannot be read there.
    #[error("{provider} is not configured here, so {reference} cannot be checked: set {} or, if you are sure, give --force", variables.join(", "))]
    NotConfigured {
        /// The provider.
        provider: String,
        /// The reference.
        reference: String,
        /// Its required variables.
        variables: Vec<String>,
    },
    /// The provider could not be built from its variables.
    #[error("{0}")]
    Setup(Box<commerce_core::Error>),
    /// The provider has no order under the reference.
    #[error("{provider} has no order {reference}: check the reference (or, if you are sure, give --force)")]
    NoSuchReference {
        /// The provider.
        provider: String,
        /// The reference.
        reference: String,
    },
    /// The provider's order under the reference is another order.
    #[error("{provider}'s order {reference} is not {key}: {why} (or, if you are sure, give --force)")]
    OtherOrder {
        /// The provider.
        provider: String,
        /// The reference.
        reference: String,
        /// The order.
        key: String,
        /// What differs.
        why: String,
    },
    /// The provider answered the check in a way this release does not know.
    #[error("{provider}: {answer} (or, if you are sure, give --force)")]
    UnknownAnswer {
        /// The provider.
        provider: String,
        /// Its answer, as debug text.
        answer: String,
    },
    /// The provider offers no way to read an order by reference.
    #[error(
        "{provider} cannot tell whether {reference} is this order ({error}): check it there, then or, if you are sure, give --force"
    )]
    CannotTell {
        /// The provider.
        provider: String,
        /// The reference.
        reference: String,
        /// Its [`commerce_core::Error::Unsupported`].
        error: Box<commerce_core::Error>,
    },
    /// Reading the reference at the provider failed.
    #[error(
        "{reference} could not be checked at {provider} ({error}): try again, or, if you are sure, give --force"
    )]
    CheckFailed {
        /// The provider.
        provider: String,
        /// The reference.
        reference: String,
        /// Why.
        error: Box<commerce_core::Error>,
    },
    /// The order was split over several providers: it is worked on through its parts.
    #[error("journal: {key} was split into {}: resolve or retry those (the order invites once they ended)", .parts.join(", "))]
    Split {
        /// The order.
        key: String,
        /// Its parts' keys.
        parts: Vec<String>,
    },
    /// The order's submission is done already.
    #[error("journal: {key} is submitted already")]
    AlreadySubmitted {
        /// The order.
        key: String,
    },
    /// The confirmation cannot be skipped before the order shipped.
    #[error("journal: the order has not shipped: its confirmation cannot be skipped yet")]
    NotShipped,
    /// An invitation cannot be skipped before the shipment confirmation.
    #[error("journal: invitations follow the shipment confirmation: skip `confirm` first")]
    NotConfirmed,
    /// The step is not one that can be done by hand.
    #[error("journal: `{step}` cannot be skipped: give `confirm` or an invitation step ({}); a submission is settled with --submitted", .steps.join(", "))]
    NotSkippable {
        /// The step given.
        step: String,
        /// The invitation steps of this build.
        steps: Vec<String>,
    },
    /// The order is completed.
    #[error("journal: {key} is completed")]
    Completed {
        /// The order.
        key: String,
    },
    /// The order's personal data was purged.
    #[error("journal: the personal data of {key} was purged{}", purged_consequence(.operation))]
    Purged {
        /// The order.
        key: String,
        /// What was asked.
        operation: Operation,
    },
    /// An operator cancelled the order: `reopen` undoes that, not `retry`.
    #[error("journal: {key} was cancelled by an operator: `commerce reopen {key}` undoes that")]
    CancelledByOperator {
        /// The order.
        key: String,
    },
    /// Every line of the order was cancelled on its channel.
    #[error("journal: every line of {key} was cancelled on its channel: there is nothing left to ship")]
    NothingToShip {
        /// The order.
        key: String,
    },
    /// The order has no resolve to undo.
    #[error("journal: {key} has no resolve to undo")]
    NothingToUndo {
        /// The order.
        key: String,
    },
    /// The flow acted on the order after the resolve: it cannot be undone.
    #[error("journal: the flow went on with {key} after the resolve of {}: it cannot be undone (see `commerce show {key}`)", time(.resolved_at))]
    WentOn {
        /// The order.
        key: String,
        /// When it was resolved.
        resolved_at: DateTime<Utc>,
    },
    /// The journal failed (its storage, a journal that cannot be written).
    #[error(transparent)]
    Journal(JournalError),
}

impl Refusal {
    /// Whether the request named something that is not there (a blank reference, a
    /// provider this build does not have): a command line's usage error.
    pub fn is_usage(&self) -> bool {
        matches!(self, Refusal::BadReference(_) | Refusal::UnknownProvider { .. })
    }
}

impl From<JournalError> for Refusal {
    fn from(e: JournalError) -> Self {
        match e {
            JournalError::NotFound(key) => Refusal::UnknownOrder {
                key,
                looked_up: false,
            },
            JournalError::Busy { key, runner, until } => Refusal::Leased { key, runner, until },
            other => Refusal::Journal(other),
        }
    }
}

/// The text of [`Refusal::UnknownOrder`].
fn unknown_order(key: &str, looked_up: &bool) -> String {
    if *looked_up {
        format!("no order {key} in the journal (keys look like bol:1043946570)")
    } else {
        format!("journal: no order {key}")
    }
}

/// What a purge means for the operation refused ([`Refusal::Purged`]).
fn purged_consequence(operation: &Operation) -> &'static str {
    match operation {
        Operation::Reopen => ": it cannot be worked on again",
        Operation::Retry => " (names, addresses): it cannot be handed over or invited again",
    }
}

/// A time as the history and the refusals write it.
fn time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The variables a provider is built from.
type VarsFn<'a> = Box<dyn Fn(&str) -> Option<String> + Send + Sync + 'a>;

/// An operator's changes to the orders of one journal.
pub struct Operator<'a> {
    journal: &'a dyn Journal,
    vars: VarsFn<'a>,
}

impl std::fmt::Debug for Operator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

impl<'a> Operator<'a> {
    /// Changes the orders of `journal`; a reference given to [`Decision::Submitted`] is
    /// read at a provider built from the environment.
    pub fn new(journal: &'a dyn Journal) -> Self {
        Operator {
            journal,
            vars: Box::new(commerce_core::env_optional),
        }
    }

    /// The journal it changes.
    pub(crate) fn journal(&self) -> &'a dyn Journal {
        self.journal
    }

    /// Builds the provider that checks a reference from `vars` instead of the environment.
    pub fn with_vars(self, vars: impl Fn(&str) -> Option<String> + Send + Sync + 'a) -> Self {
        Operator {
            vars: Box::new(vars),
            ..self
        }
    }

    /// Settles the order `key` as `decision` says, with `reason` in its history; undone by
    /// [`Operator::reopen`] while the flow has not acted on it since.
    pub async fn resolve(
        &self,
        key: &str,
        decision: Decision,
        reason: Option<&str>,
    ) -> Result<Outcome, Refusal> {
        // A reference is checked before the journal is changed.
        let action = match decision {
            Decision::Submitted {
                reference,
                provider,
                force,
            } => Action::Submitted(
                self.checked_submission(key, &reference, provider.as_deref(), force)
                    .await?,
            ),
            Decision::SkipStep(step) => Action::SkipStep(step),
            Decision::Cancel => Action::Cancel,
        };
        let because = |text: String| match reason {
            Some(why) => format!("{text} ({why})"),
            None => text,
        };
        let now = Utc::now();
        self.amend(key, now, |r| {
            split_refused(r)?;
            let before = StepState::of(r);
            let note = match &action {
                Action::Submitted((provider, reference)) => {
                    if r.submission.is_done() {
                        return Err(Refusal::AlreadySubmitted { key: r.key.clone() });
                    }
                    r.fulfilment = Some(provider.clone());
                    r.submission = Step::Done(SubmissionReceipt {
                        provider: provider.clone(),
                        reference: reference.clone(),
                        already_submitted: true,
                    });
                    settled(r);
                    because(format!("resolved: submitted to {provider} as {reference}"))
                }
                Action::SkipStep(step) => {
                    skip(r, step)?;
                    settled(r);
                    because(format!("resolved: {step} done by hand"))
                }
                Action::Cancel => {
                    r.cancelled = Some(because(CANCELLED.to_owned()));
                    r.cancelled_at = Some(now);
                    settled(r);
                    because("resolved: the flow leaves the order".to_owned())
                }
            };
            r.resolved = Some(Resolution {
                at: now,
                before,
                after: StepState::of(r),
            });
            Ok(format!("{note}; `commerce reopen {}` undoes it", r.key))
        })
        .await
    }

    /// [`Operator::resolve`] with [`Decision::SkipStep`].
    pub async fn skip_step(&self, key: &str, step: &str, reason: Option<&str>) -> Result<Outcome, Refusal> {
        self.resolve(key, Decision::SkipStep(step.to_owned()), reason)
            .await
    }

    /// [`Operator::resolve`] with [`Decision::Cancel`].
    pub async fn cancel(&self, key: &str, reason: Option<&str>) -> Result<Outcome, Refusal> {
        self.resolve(key, Decision::Cancel, reason).await
    }

    /// Undoes the last resolve of `key`, while the flow has not acted on the order since
    /// and its personal data is still there.
    pub async fn reopen(&self, key: &str) -> Result<Outcome, Refusal> {
        self.amend(key, Utc::now(), |r| {
            let Some(resolution) = r.resolved.take() else {
                return Err(Refusal::NothingToUndo { key: r.key.clone() });
            };
            if r.purged_at.is_some() {
                return Err(Refusal::Purged {
                    key: r.key.clone(),
                    operation: Operation::Reopen,
                });
            }
            if StepState::of(r) != resolution.after || r.completed_at.is_some() {
                return Err(Refusal::WentOn {
                    key: r.key.clone(),
                    resolved_at: resolution.at,
                });
            }
            resolution.before.restore(r);
            r.failures = 0;
            r.last_error = None;
            Ok(format!(
                "reopened: the resolve of {} undone",
                time(&resolution.at)
            ))
        })
        .await
    }

    /// Works on `key` now: clears its failures and its wait; for an order that needs a
    /// person, also its attention (and its cancellation by the flow), and a step whose
    /// outcome was unknown is sent again (the person checked that the provider did not get
    /// it).
    pub async fn retry(&self, key: &str) -> Result<Outcome, Refusal> {
        self.amend(key, Utc::now(), |r| {
            let key = || r.key.clone();
            if r.completed_at.is_some() {
                return Err(Refusal::Completed { key: key() });
            }
            if r.purged_at.is_some() {
                return Err(Refusal::Purged {
                    key: key(),
                    operation: Operation::Retry,
                });
            }
            if r.cancelled.as_deref().is_some_and(|c| c.starts_with(CANCELLED)) {
                return Err(Refusal::CancelledByOperator { key: key() });
            }
            split_refused(r)?;
            if r.order.lines.is_empty() && !r.dropped_lines.is_empty() {
                return Err(Refusal::NothingToShip { key: key() });
            }
            if r.attention.is_none() && r.cancelled.is_none() {
                // Failing, not waiting for a person: due now, and a step of unknown outcome
                // is still settled by the flow (a look-up where the provider has one).
                r.failures = 0;
                return Ok("retry asked by an operator: due now".to_owned());
            }
            let mut again = Vec::new();
            if r.submission == Step::Started {
                r.submission = Step::NotStarted;
                again.push("submit".to_owned());
            }
            if r.confirmation == Step::Started {
                r.confirmation = Step::NotStarted;
            }
            for (step, state) in r.invitations.iter_mut() {
                if *state == Step::Started {
                    *state = Step::NotStarted;
                    again.push(step.clone());
                }
            }
            settled(r);
            r.cancelled = None;
            r.cancelled_at = None;
            Ok(if again.is_empty() {
                "retry asked by an operator".to_owned()
            } else {
                format!("retry asked by an operator: {} sent again", again.join(", "))
            })
        })
        .await
    }

    /// One journal transaction changing `key` by `change`; a typed refusal from `change`
    /// comes back as it was.
    async fn amend(
        &self,
        key: &str,
        now: DateTime<Utc>,
        mut change: impl FnMut(&mut OrderRecord) -> Result<String, Refusal> + Send,
    ) -> Result<Outcome, Refusal> {
        let mut refused = None;
        let mut note = String::new();
        // The journal may call the change more than once (on a fresh copy each time, when
        // the order was written meanwhile): the last call's note or refusal is the one kept.
        let result = self
            .journal
            .amend(key, OPERATOR, now, &mut |r| match change(r) {
                Ok(text) => {
                    note.clone_from(&text);
                    refused = None;
                    Ok(text)
                }
                Err(refusal) => {
                    // The journal's own error is set aside for this one.
                    let text = refusal.to_string();
                    refused = Some(refusal);
                    Err(text)
                }
            })
            .await;
        match (result, refused) {
            (Ok(record), _) => Ok(Outcome { record, note }),
            (Err(JournalError::Refused(_)), Some(refusal)) => Err(refusal),
            (Err(e), _) => Err(e.into()),
        }
    }

    /// Checks a `Submitted` decision before the journal is changed: the reference is not
    /// blank, the provider is a fulfilment provider of this build, and (unless `force`) the
    /// provider has the reference as this order. Returns the provider and the reference as
    /// it will be written.
    async fn checked_submission(
        &self,
        key: &str,
        reference: &str,
        provider: Option<&str>,
        force: bool,
    ) -> Result<(String, String), Refusal> {
        let reference = commerce_core::require_reference(reference)
            .map_err(|e| Refusal::BadReference(Box::new(e)))?
            .to_owned();
        let r = self
            .journal
            .load(key)
            .await?
            .ok_or_else(|| Refusal::UnknownOrder {
                key: key.to_owned(),
                looked_up: true,
            })?;
        let provider = match (provider, &r.fulfilment) {
            (Some(p), _) => p.to_owned(),
            (None, Some(p)) => p.clone(),
            (None, None) => return Err(Refusal::NotRouted),
        };
        let Some(spec) = PROVIDERS
            .iter()
            .find(|s| s.role == Role::Fulfilment && s.name == provider)
        else {
            return Err(Refusal::UnknownProvider {
                provider,
                known: PROVIDERS
                    .iter()
                    .filter(|s| s.role == Role::Fulfilment)
                    .map(|s| s.name.to_owned())
                    .collect(),
            });
        };
        if force {
            return Ok((provider, reference));
        }
        if !spec.configured(&*self.vars).unwrap_or(false) {
            return Err(Refusal::NotConfigured {
                provider,
                reference,
                variables: spec.required.iter().map(|v| (*v).to_owned()).collect(),
            });
        }
        let providers = crate::add_provider(Providers::new(), &provider, &*self.vars)
            .map_err(|e| Refusal::Setup(Box::new(e)))?;
        let Some(f) = providers.fulfilment.first() else {
            return Err(Refusal::Setup(Box::new(commerce_core::Error::config(format!(
                "{provider} is not a fulfilment provider"
            )))));
        };
        match f.check_reference(&reference, &r.order).await {
            Ok(ReferenceCheck::Matches) => Ok((provider, reference)),
            Ok(ReferenceCheck::NotFound) => Err(Refusal::NoSuchReference { provider, reference }),
            Ok(ReferenceCheck::Mismatch(why)) => Err(Refusal::OtherOrder {
                provider,
                reference,
                key: r.key,
                why,
            }),
            Ok(other) => Err(Refusal::UnknownAnswer {
                provider,
                answer: format!("{other:?}"),
            }),
            Err(error @ commerce_core::Error::Unsupported { .. }) => Err(Refusal::CannotTell {
                provider,
                reference,
                error: Box::new(error),
            }),
            Err(error) => Err(Refusal::CheckFailed {
                provider,
                reference,
                error: Box::new(error),
            }),
        }
    }
}

/// A [`Decision`] once checked: a submission with its provider and its reference as written.
enum Action {
    Submitted((String, String)),
    SkipStep(String),
    Cancel,
}

/// How an operator's cancel starts in [`OrderRecord::cancelled`] (told from the flow's own
/// cancellations by it).
const CANCELLED: &str = "cancelled by an operator";

/// The invitation steps of this build's review platforms, as `--skip-step` takes them:
/// each platform's name, or `platform/part` for a platform whose invitation is several
/// calls.
pub fn invitation_steps() -> Vec<String> {
    PROVIDERS
        .iter()
        .filter(|s| s.role == Role::ReviewPlatform)
        .flat_map(
            |s| match INVITATION_PARTS.iter().find(|(name, _)| *name == s.name) {
                Some((name, parts)) => parts.iter().map(|p| format!("{name}/{p}")).collect(),
                None => vec![s.name.to_owned()],
            },
        )
        .collect()
}

/// The review platforms whose invitation is several calls, each a step of its own
/// ([`commerce_core::ReviewPlatform::invitation_parts`]; the parts an invitation with
/// products has).
const INVITATION_PARTS: &[(&str, &[&str])] = &[("sitejabber", &["review", "products"])];

/// Marks `step` done by hand on `r`.
fn skip(r: &mut OrderRecord, step: &str) -> Result<(), Refusal> {
    let platform = step.split('/').next().unwrap_or_default();
    let review_platform = PROVIDERS
        .iter()
        .any(|s| s.role == Role::ReviewPlatform && s.name == platform);
    if step == "confirm" {
        if !r.shipped.is_done() {
            return Err(Refusal::NotShipped);
        }
        r.confirmation = Step::Done(None);
    } else if r.invitations.contains_key(step) || review_platform {
        // A split order's parts confirmed their shipments.
        if !r.confirmation.is_done() && !r.split.has_ended() {
            return Err(Refusal::NotConfirmed);
        }
        r.invitations.insert(
            step.to_owned(),
            Step::Done(InvitationReceipt {
                platform: platform.to_owned(),
                reference: None,
                already_invited: true,
            }),
        );
    } else {
        return Err(Refusal::NotSkippable {
            step: step.to_owned(),
            steps: invitation_steps(),
        });
    }
    Ok(())
}

/// An order split over several providers is worked on through its parts: a change to the
/// order itself (a hand-over, a cancel, a retry) would bypass them.
fn split_refused(r: &OrderRecord) -> Result<(), Refusal> {
    if r.split.is_empty() || r.split.has_ended() {
        return Ok(());
    }
    Err(Refusal::Split {
        key: r.key.clone(),
        parts: r.split.iter().map(|p| p.key.clone()).collect(),
    })
}

fn settled(r: &mut OrderRecord) {
    r.attention = None;
    r.failures = 0;
    r.last_error = None;
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use commerce_core::{Order, Tracking};

    use super::*;
    use crate::journal::{MemoryJournal, SplitPart};

    const KEY: &str = "bol:1";

    /// A journal holding one order waiting for a person, routed to ShopWeDo.
    async fn journal_with(change: impl FnOnce(&mut OrderRecord)) -> MemoryJournal {
        let journal = MemoryJournal::new();
        let mut r = OrderRecord::new(Order {
            id: "1".into(),
            channel: "bol".into(),
            ..Default::default()
        });
        r.fulfilment = Some("shopwedo".into());
        r.attention = Some("checked by hand".into());
        change(&mut r);
        assert!(journal.add(&r).await.unwrap());
        journal
    }

    fn no_vars(_: &str) -> Option<String> {
        None
    }

    fn submitted(reference: &str, provider: Option<&str>, force: bool) -> Decision {
        Decision::Submitted {
            reference: reference.into(),
            provider: provider.map(str::to_owned),
            force,
        }
    }

    fn shipped(r: &mut OrderRecord) {
        r.submission = Step::Done(SubmissionReceipt {
            provider: "shopwedo".into(),
            reference: "9".into(),
            already_submitted: false,
        });
        r.shipped = Step::Done(Tracking::default());
    }

    /// Every refused operation leaves the record as it was, and writes no history (the
    /// record's first entry is its adding).
    async fn unchanged(journal: &MemoryJournal, before: &OrderRecord) {
        assert_eq!(&journal.load(KEY).await.unwrap().unwrap(), before);
        assert_eq!(journal.history(KEY).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_forced_submission_is_written_and_reopen_undoes_it() {
        let journal = journal_with(|_| {}).await;
        let op = Operator::new(&journal).with_vars(no_vars);
        let done = op
            .resolve(KEY, submitted(" 90001 ", None, true), Some("seen there"))
            .await
            .unwrap();
        assert_eq!(done.record.submission.done().unwrap().reference, "90001");
        assert_eq!(done.record.attention, None);
        assert_eq!(
            done.note,
            "resolved: submitted to shopwedo as 90001 (seen there); `commerce reopen bol:1` undoes it"
        );
        let again = op
            .resolve(KEY, submitted("90002", None, true), None)
            .await
            .unwrap_err();
        assert!(matches!(again, Refusal::AlreadySubmitted { .. }), "{again:?}");
        assert_eq!(again.to_string(), "journal: bol:1 is submitted already");
        let reopened = op.reopen(KEY).await.unwrap();
        assert_eq!(reopened.record.submission, Step::NotStarted);
        assert_eq!(reopened.record.attention.as_deref(), Some("checked by hand"));
        let twice = op.reopen(KEY).await.unwrap_err();
        assert!(matches!(twice, Refusal::NothingToUndo { .. }), "{twice:?}");
        assert_eq!(twice.to_string(), "journal: bol:1 has no resolve to undo");
        let history = journal.history(KEY).await.unwrap();
        assert_eq!(history.len(), 3);
        assert!(history[1..].iter().all(|h| h.by == OPERATOR), "{history:?}");
    }

    #[tokio::test]
    async fn a_submission_is_checked_before_the_journal_is_read_or_changed() {
        let journal = journal_with(|_| {}).await;
        let before = journal.load(KEY).await.unwrap().unwrap();
        let op = Operator::new(&journal).with_vars(no_vars);

        let blank = op
            .resolve(KEY, submitted(" ", None, true), None)
            .await
            .unwrap_err();
        assert!(
            matches!(blank, Refusal::BadReference(_)) && blank.is_usage(),
            "{blank:?}"
        );
        assert!(blank.to_string().starts_with("--submitted: "), "{blank}");

        let typo = op
            .resolve(KEY, submitted("1", Some("shopwdo"), true), None)
            .await
            .unwrap_err();
        assert!(typo.is_usage(), "{typo:?}");
        let Refusal::UnknownProvider { known, .. } = &typo else {
            panic!("{typo:?}")
        };
        assert!(known.iter().any(|k| k == "shopwedo"), "{known:?}");
        assert!(
            typo.to_string()
                .starts_with("--provider `shopwdo` is not a fulfilment provider of this build: give one of "),
            "{typo}"
        );
        let review = op
            .resolve(KEY, submitted("1", Some("safeshop"), true), None)
            .await
            .unwrap_err();
        assert!(matches!(review, Refusal::UnknownProvider { .. }), "{review:?}");

        let unknown = op
            .resolve("bol:404", submitted("1", None, true), None)
            .await
            .unwrap_err();
        assert!(
            matches!(unknown, Refusal::UnknownOrder { looked_up: true, .. }),
            "{unknown:?}"
        );
        assert!(!unknown.is_usage());
        assert_eq!(
            unknown.to_string(),
            "no order bol:404 in the journal (keys look like bol:1043946570)"
        );

        let unchecked = op
            .resolve(KEY, submitted("1", None, false), None)
            .await
            .unwrap_err();
        let Refusal::NotConfigured { variables, .. } = &unchecked else {
            panic!("{unchecked:?}")
        };
        assert!(!variables.is_empty());
        assert!(
            unchecked
                .to_string()
                .starts_with("shopwedo is not configured here, so 1 cannot be checked: set SHOPWEDO_"),
            "{unchecked}"
        );
        assert!(
            unchecked
                .to_string()
                .ends_with(" or, if you are sure, give --force")
        );
        unchanged(&journal, &before).await;

        let journal = journal_with(|r| r.fulfilment = None).await;
        let op = Operator::new(&journal).with_vars(no_vars);
        let unrouted = op
            .resolve(KEY, submitted("1", None, true), None)
            .await
            .unwrap_err();
        assert!(matches!(unrouted, Refusal::NotRouted), "{unrouted:?}");
        assert_eq!(
            unrouted.to_string(),
            "the order was not routed: give --provider NAME"
        );
        let routed = op
            .resolve(KEY, submitted("1", Some("shopwedo"), true), None)
            .await
            .unwrap();
        assert_eq!(routed.record.fulfilment.as_deref(), Some("shopwedo"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reference_the_provider_does_not_have_is_refused() {
        let sb = commerce_sandbox::start(commerce_sandbox::Config::default())
            .await
            .unwrap();
        let vars: std::collections::BTreeMap<String, String> =
            sb.env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let journal = journal_with(|_| {}).await;
        let before = journal.load(KEY).await.unwrap().unwrap();
        let op = Operator::new(&journal).with_vars(move |name| vars.get(name).cloned());
        let missing = op
            .resolve(KEY, submitted("999999", None, false), None)
            .await
            .unwrap_err();
        assert!(matches!(missing, Refusal::NoSuchReference { .. }), "{missing:?}");
        assert_eq!(
            missing.to_string(),
            "shopwedo has no order 999999: check the reference (or, if you are sure, give --force)"
        );
        unchanged(&journal, &before).await;
    }

    #[tokio::test]
    async fn a_provider_that_cannot_be_built_from_its_variables_is_refused() {
        let journal = journal_with(|_| {}).await;
        let before = journal.load(KEY).await.unwrap().unwrap();
        let op = Operator::new(&journal).with_vars(|name| match name {
            "SHOPWEDO_SHOP_ID" => Some("1".into()),
            "SHOPWEDO_SHOP_KEY" => Some("k".into()),
            "SHOPWEDO_BASE_URL" => Some("not a url".into()),
            _ => None,
        });
        let refused = op
            .resolve(KEY, submitted("1", None, false), None)
            .await
            .unwrap_err();
        let Refusal::Setup(error) = &refused else {
            panic!("{refused:?}")
        };
        assert!(refused.to_string().contains("SHOPWEDO_BASE_URL"), "{error}");
        assert!(!refused.is_usage());
        unchanged(&journal, &before).await;
    }

    #[tokio::test]
    async fn steps_are_skipped_in_their_order_and_only_known_ones() {
        let journal = journal_with(|_| {}).await;
        let before = journal.load(KEY).await.unwrap().unwrap();
        let op = Operator::new(&journal).with_vars(no_vars);
        let early = op.skip_step(KEY, "confirm", None).await.unwrap_err();
        assert!(matches!(early, Refusal::NotShipped), "{early:?}");
        assert_eq!(
            early.to_string(),
            "journal: the order has not shipped: its confirmation cannot be skipped yet"
        );
        let unknown = op.skip_step(KEY, "route", None).await.unwrap_err();
        let Refusal::NotSkippable { steps, .. } = &unknown else {
            panic!("{unknown:?}")
        };
        assert_eq!(steps, &invitation_steps());
        assert!(
            unknown
                .to_string()
                .starts_with("journal: `route` cannot be skipped: give `confirm` or an invitation step ("),
            "{unknown}"
        );
        unchanged(&journal, &before).await;
        if let Some(step) = invitation_steps().first() {
            let first = op.skip_step(KEY, step, None).await.unwrap_err();
            assert!(matches!(first, Refusal::NotConfirmed), "{first:?}");
            assert_eq!(
                first.to_string(),
                "journal: invitations follow the shipment confirmation: skip `confirm` first"
            );
        }

        let journal = journal_with(shipped).await;
        let op = Operator::new(&journal).with_vars(no_vars);
        let confirmed = op.skip_step(KEY, "confirm", Some("done on bol")).await.unwrap();
        assert_eq!(confirmed.record.confirmation, Step::Done(None));
        assert!(
            confirmed
                .note
                .starts_with("resolved: confirm done by hand (done on bol); ")
        );
        for step in invitation_steps() {
            let done = op.skip_step(KEY, &step, None).await.unwrap();
            let receipt = done.record.invitations[&step].done().unwrap().clone();
            assert!(
                receipt.already_invited && step.starts_with(&receipt.platform),
                "{receipt:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_cancel_is_undone_by_reopen_not_by_retry() {
        let journal = journal_with(|_| {}).await;
        let op = Operator::new(&journal).with_vars(no_vars);
        let cancelled = op.cancel(KEY, Some("buyer asked")).await.unwrap();
        assert_eq!(
            cancelled.record.cancelled.as_deref(),
            Some("cancelled by an operator (buyer asked)")
        );
        assert!(!cancelled.record.is_open());
        let retry = op.retry(KEY).await.unwrap_err();
        assert!(matches!(retry, Refusal::CancelledByOperator { .. }), "{retry:?}");
        assert_eq!(
            retry.to_string(),
            "journal: bol:1 was cancelled by an operator: `commerce reopen bol:1` undoes that"
        );
        let reopened = op.reopen(KEY).await.unwrap();
        assert_eq!(
            (reopened.record.cancelled, reopened.record.cancelled_at),
            (None, None)
        );
        assert_eq!(reopened.record.attention.as_deref(), Some("checked by hand"));
    }

    #[tokio::test]
    async fn reopen_is_refused_once_the_flow_went_on_or_the_data_was_purged() {
        let journal = journal_with(shipped).await;
        let op = Operator::new(&journal).with_vars(no_vars);
        let skipped = op.skip_step(KEY, "confirm", None).await.unwrap();
        let at = skipped.record.resolved.as_ref().unwrap().at;
        // The flow acts on the order after the resolve.
        let now = Utc::now();
        let mut r = journal
            .claim("runner-a", &["bol".into()], now, now + Duration::seconds(60))
            .await
            .unwrap()
            .unwrap();
        r.confirmation = Step::Done(Some("again".into()));
        journal.release("runner-a", &r, "confirmed").await.unwrap();
        let went_on = op.reopen(KEY).await.unwrap_err();
        assert!(matches!(went_on, Refusal::WentOn { .. }), "{went_on:?}");
        assert_eq!(
            went_on.to_string(),
            format!(
                "journal: the flow went on with bol:1 after the resolve of {}: it cannot be undone (see `commerce show bol:1`)",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            )
        );

        let journal = journal_with(|_| {}).await;
        let op = Operator::new(&journal).with_vars(no_vars);
        op.cancel(KEY, None).await.unwrap();
        let later = Utc::now() + Duration::seconds(1);
        assert_eq!(journal.purge_personal(later).await.unwrap(), 1);
        let purged = op.reopen(KEY).await.unwrap_err();
        assert!(
            matches!(
                purged,
                Refusal::Purged {
                    operation: Operation::Reopen,
                    ..
                }
            ),
            "{purged:?}"
        );
        assert_eq!(
            purged.to_string(),
            "journal: the personal data of bol:1 was purged: it cannot be worked on again"
        );
        let purged = op.retry(KEY).await.unwrap_err();
        assert!(
            matches!(
                purged,
                Refusal::Purged {
                    operation: Operation::Retry,
                    ..
                }
            ),
            "{purged:?}"
        );
        assert_eq!(
            purged.to_string(),
            "journal: the personal data of bol:1 was purged (names, addresses): it cannot be handed over or \
             invited again"
        );
    }

    #[tokio::test]
    async fn retry_sends_a_step_of_unknown_outcome_again_and_clears_failures() {
        let journal = journal_with(|r| {
            r.submission = Step::Started;
            r.failures = 3;
            r.last_error = Some("timeout".into());
        })
        .await;
        let op = Operator::new(&journal).with_vars(no_vars);
        let retried = op.retry(KEY).await.unwrap();
        assert_eq!(retried.note, "retry asked by an operator: submit sent again");
        assert_eq!(retried.record.submission, Step::NotStarted);
        assert_eq!((retried.record.failures, retried.record.attention), (0, None));

        // Failing, not waiting for a person: a Started step stays for the flow's look-up.
        let journal = journal_with(|r| {
            r.attention = None;
            r.submission = Step::Started;
            r.failures = 2;
        })
        .await;
        let op = Operator::new(&journal).with_vars(no_vars);
        let retried = op.retry(KEY).await.unwrap();
        assert_eq!(retried.note, "retry asked by an operator: due now");
        assert_eq!(retried.record.submission, Step::Started);
        assert_eq!(retried.record.failures, 0);
    }

    #[tokio::test]
    async fn retry_refuses_completed_emptied_and_split_orders() {
        let journal = journal_with(|r| r.completed_at = Some(Utc::now())).await;
        let done = Operator::new(&journal).retry(KEY).await.unwrap_err();
        assert!(matches!(done, Refusal::Completed { .. }), "{done:?}");
        assert_eq!(done.to_string(), "journal: bol:1 is completed");

        let journal = journal_with(|r| {
            r.dropped_lines.insert("line-1".into(), "cancelled on bol".into());
        })
        .await;
        let empty = Operator::new(&journal).retry(KEY).await.unwrap_err();
        assert!(matches!(empty, Refusal::NothingToShip { .. }), "{empty:?}");
        assert_eq!(
            empty.to_string(),
            "journal: every line of bol:1 was cancelled on its channel: there is nothing left to ship"
        );

        let journal = journal_with(|r| {
            r.split = crate::journal::Split::Planned(vec![
                SplitPart {
                    key: "bol:1/shopwedo".into(),
                    provider: "shopwedo".into(),
                    lines: vec!["a".into()],
                },
                SplitPart {
                    key: "bol:1/customer-api".into(),
                    provider: "customer-api".into(),
                    lines: vec!["b".into()],
                },
            ])
        })
        .await;
        let before = journal.load(KEY).await.unwrap().unwrap();
        let op = Operator::new(&journal).with_vars(no_vars);
        for refusal in [
            op.retry(KEY).await.unwrap_err(),
            op.cancel(KEY, None).await.unwrap_err(),
            op.resolve(KEY, submitted("1", None, true), None)
                .await
                .unwrap_err(),
        ] {
            assert!(matches!(refusal, Refusal::Split { .. }), "{refusal:?}");
            assert_eq!(
                refusal.to_string(),
                "journal: bol:1 was split into bol:1/shopwedo, bol:1/customer-api: resolve or retry those (the \
                 order invites once they ended)"
            );
        }
        unchanged(&journal, &before).await;
    }

    #[tokio::test]
    async fn an_order_a_runner_holds_or_the_journal_lacks_is_refused() {
        let journal = journal_with(|r| r.attention = None).await;
        let now = Utc::now();
        let until = now + Duration::hours(1);
        journal
            .claim("runner-a", &["bol".into()], now, until)
            .await
            .unwrap()
            .unwrap();
        let op = Operator::new(&journal).with_vars(no_vars);
        let busy = op.retry(KEY).await.unwrap_err();
        let Refusal::Leased { runner, .. } = &busy else {
            panic!("{busy:?}")
        };
        assert_eq!(runner, "runner-a");
        assert_eq!(
            busy.to_string(),
            format!(
                "journal: bol:1 is being worked on by runner runner-a (lease until {until}); try again after"
            )
        );
        let cancel = op.cancel(KEY, None).await.unwrap_err();
        assert!(matches!(cancel, Refusal::Leased { .. }), "{cancel:?}");

        let missing = op.retry("bol:404").await.unwrap_err();
        assert!(
            matches!(missing, Refusal::UnknownOrder { looked_up: false, .. }),
            "{missing:?}"
        );
        assert_eq!(missing.to_string(), "journal: no order bol:404");
        let missing = op.reopen("bol:404").await.unwrap_err();
        assert!(matches!(missing, Refusal::UnknownOrder { .. }), "{missing:?}");
    }
}
