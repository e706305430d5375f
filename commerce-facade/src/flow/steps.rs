//! The flow as one table: the steps of an order, in order, what each runs, what the
//! journal records, and what an unknown outcome (a call begun, then the process died or
//! the answer was lost or unreadable) does. [`next`] reads an order's record against the
//! table and says which step comes next; the flow runs it, journals it, and asks again.
//!
//! | step | runs | the journal records | an unknown outcome |
//! |---|---|---|---|
//! | `changes` (once per visit, before `route`, `submit`, each `shipment` check and `confirm`) | `SalesChannel::order_state`; for the buyer's cancellation `Fulfilment::cancel` (after a status read) and `SalesChannel::accept_cancellation` | `dropped_lines`, `kept_lines`, `cancelled` | asked again: the channel checks the order before it cancels, the provider's status is read before its cancel |
//! | `route` | stock reads at each fulfilment provider (or the configured routes) | `fulfilment` | reads only: done again |
//! | `split` (no provider has every line) | adds a record per provider's part (`{key}/{provider}`, its lines), then waits for the parts to end; the order keeps the lines they shipped and invites for them | `split` (the plan, before), the parts, `parts_added`, `parts_done` | done again: parts are added by key; waiting only reads |
//! | `submit` | `find_submission`, `Fulfilment::prepare` (reads), `Fulfilment::send` (acts) | `submission`: `Started` immediately before `send`, then `Done(receipt)` | looked up (`find_submission`); no look-up: a person decides (or sent again with `resend_unconfirmed`) |
//! | `shipment` | `Fulfilment::status`, once each time it is due | `shipped`: `Done(tracking)`; until then `due` = now + `poll_interval` | reads only: done again |
//! | `confirm` | `SalesChannel::confirm_shipment` | `confirmation`: `Started`, then `Done(reference)` | asked again: the channel checks the order before it confirms |
//! | `invite` (each platform, each call) | `ReviewPlatform::invite` or `invite_part` | `invitations[platform]` or `[platform/part]`: `Started`, then `Done(receipt)` | sent again where the platform refuses duplicates (`repeatable_invites`), else a person decides |
//! | `complete` | nothing | `completed_at` | - |

use commerce_core::ReviewPlatform;

use crate::journal::{OrderRecord, Step};

/// What to do when a step's outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unknown {
    /// The step only reads: do it again.
    Repeat,
    /// Look the result up at the provider; without a look-up, a person decides.
    LookUp,
    /// The provider checks before it acts: ask again.
    AskAgain,
    /// Send again where the provider refuses duplicates; otherwise a person decides.
    RepeatIfRefused,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    /// The step's name in events, the journal's history and `commerce status`.
    pub name: &'static str,
    /// Whether its call can change something at the provider.
    pub acts: bool,
    /// What an unknown outcome does.
    pub unknown: Unknown,
}

/// The table, in the order an order goes through it (`changes` runs once per visit,
/// before the first of the next four that is due).
pub(crate) const TABLE: [Rule; 7] = [
    Rule {
        name: "changes",
        acts: true,
        unknown: Unknown::AskAgain,
    },
    Rule {
        name: "route",
        acts: false,
        unknown: Unknown::Repeat,
    },
    Rule {
        name: "split",
        acts: false,
        unknown: Unknown::Repeat,
    },
    Rule {
        name: "submit",
        acts: true,
        unknown: Unknown::LookUp,
    },
    Rule {
        name: "shipment",
        acts: false,
        unknown: Unknown::Repeat,
    },
    Rule {
        name: "confirm",
        acts: true,
        unknown: Unknown::AskAgain,
    },
    Rule {
        name: "invite",
        acts: true,
        unknown: Unknown::RepeatIfRefused,
    },
];

pub(crate) const CHANGES: &Rule = &TABLE[0];
pub(crate) const ROUTE: &Rule = &TABLE[1];
pub(crate) const SPLIT: &Rule = &TABLE[2];
pub(crate) const SUBMIT: &Rule = &TABLE[3];
pub(crate) const SHIPMENT: &Rule = &TABLE[4];
pub(crate) const CONFIRM: &Rule = &TABLE[5];
pub(crate) const INVITE: &Rule = &TABLE[6];

/// A review platform's invitation for one order: its journal steps, one per call.
#[derive(Debug, Clone)]
pub(crate) struct InvitePlan {
    /// The platform's name (its own step, done once every call is).
    pub platform: String,
    /// `(journal step, part)`: `platform/part` per call of an invitation of several
    /// calls; the platform's own name and no part for one call.
    pub calls: Vec<(String, Option<String>)>,
}

impl InvitePlan {
    pub(crate) fn of(platform: &dyn ReviewPlatform, invitation: &commerce_core::ReviewInvitation) -> Self {
        let name = platform.name().to_owned();
        let parts = platform.invitation_parts(invitation);
        let calls = if parts.is_empty() {
            vec![(name.clone(), None)]
        } else {
            parts
                .into_iter()
                .map(|part| (format!("{name}/{part}"), Some(part)))
                .collect()
        };
        InvitePlan {
            platform: name,
            calls,
        }
    }
}

/// The step an order needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Choose the fulfilment provider.
    Route,
    /// Add the parts of an order split over several providers, or wait for them to end.
    Split,
    /// Hand the order over; `settle`: an earlier attempt's outcome is unknown.
    Submit { settle: bool },
    /// Check whether it shipped.
    Shipment,
    /// Confirm the shipment on the channel.
    Confirm,
    /// One call of a platform's invitation; `settle`: an earlier attempt's outcome is
    /// unknown.
    Invite {
        /// Index into the plans.
        plan: usize,
        /// The call's journal step.
        step: String,
        /// The part, for an invitation of several calls.
        part: Option<String>,
        /// Whether it was begun before.
        settle: bool,
    },
    /// Every call of a platform's invitation is done: its own step is done.
    Invited { plan: usize },
    /// Every step is done.
    Complete,
}

impl Next {
    /// Whether the channel's view of the order is read (`changes`) before this step: the
    /// steps that hand over, wait for or confirm what the buyer may still cancel.
    pub(crate) fn reads_changes(&self) -> bool {
        matches!(
            self,
            Next::Route | Next::Submit { settle: false } | Next::Shipment | Next::Confirm
        )
    }

    /// The table's row for this step.
    pub(crate) fn rule(&self) -> &'static Rule {
        match self {
            Next::Route => ROUTE,
            Next::Split => SPLIT,
            Next::Submit { .. } => SUBMIT,
            Next::Shipment => SHIPMENT,
            Next::Confirm => CONFIRM,
            Next::Invite { .. } | Next::Invited { .. } | Next::Complete => INVITE,
        }
    }
}

/// Reads the record against the table: the first step not done.
pub(crate) fn next(r: &OrderRecord, plans: &[InvitePlan]) -> Next {
    if !r.split.is_empty() {
        // Split: its parts hand over, ship and confirm; it invites once they ended.
        if !r.parts_done {
            return Next::Split;
        }
    } else {
        if r.fulfilment.is_none() {
            return Next::Route;
        }
        match r.submission {
            Step::NotStarted => return Next::Submit { settle: false },
            Step::Started => return Next::Submit { settle: true },
            Step::Done(_) => {}
        }
        if !r.shipped.is_done() {
            return Next::Shipment;
        }
        if !r.confirmation.is_done() {
            return Next::Confirm;
        }
    }
    for (i, plan) in plans.iter().enumerate() {
        if r.invitations.get(&plan.platform).is_some_and(Step::is_done) {
            continue;
        }
        // Begun by a release that sent every call as the platform's one step: which
        // call went out is unknown, so the first is settled.
        let legacy = r.invitations.get(&plan.platform) == Some(&Step::Started)
            && plan
                .calls
                .iter()
                .all(|(s, part)| part.is_some() && !r.invitations.contains_key(s));
        for (step, part) in &plan.calls {
            match r.invitations.get(step) {
                Some(Step::Done(_)) if part.is_some() => continue,
                Some(Step::Done(_)) => break,
                started => {
                    return Next::Invite {
                        plan: i,
                        step: step.clone(),
                        part: part.clone(),
                        settle: legacy || started == Some(&Step::Started),
                    };
                }
            }
        }
        return Next::Invited { plan: i };
    }
    Next::Complete
}

#[cfg(test)]
mod tests {
    use super::*;
    use commerce_core::{InvitationReceipt, Order, SubmissionReceipt, Tracking};

    fn plans() -> Vec<InvitePlan> {
        vec![
            InvitePlan {
                platform: "safeshop".into(),
                calls: vec![("safeshop".into(), None)],
            },
            InvitePlan {
                platform: "sitejabber".into(),
                calls: vec![
                    ("sitejabber/review".into(), Some("review".into())),
                    ("sitejabber/products".into(), Some("products".into())),
                ],
            },
        ]
    }

    fn receipt(p: &str) -> Step<InvitationReceipt> {
        Step::Done(InvitationReceipt {
            platform: p.into(),
            reference: None,
            already_invited: false,
        })
    }

    /// Walks an order through the table as the flow does, step by step.
    #[test]
    fn the_table_walks_an_order_through_every_step_once() {
        let plans = plans();
        let mut r = OrderRecord::new(Order {
            id: "1".into(),
            channel: "bol".into(),
            ..Default::default()
        });
        let mut seen = Vec::new();
        loop {
            let step = next(&r, &plans);
            seen.push(format!("{step:?}"));
            match step {
                Next::Route => r.fulfilment = Some("shopwedo".into()),
                Next::Split => unreachable!("the order is not split"),
                Next::Submit { .. } => {
                    r.submission = Step::Done(SubmissionReceipt {
                        provider: "shopwedo".into(),
                        reference: "9".into(),
                        already_submitted: false,
                    })
                }
                Next::Shipment => r.shipped = Step::Done(Tracking::default()),
                Next::Confirm => r.confirmation = Step::Done(None),
                Next::Invite { step, .. } => {
                    r.invitations.insert(step, receipt("x"));
                }
                Next::Invited { plan } => {
                    r.invitations.insert(plans[plan].platform.clone(), receipt("x"));
                }
                Next::Complete => break,
            }
            assert!(seen.len() < 20);
        }
        assert_eq!(
            seen,
            [
                "Route",
                "Submit { settle: false }",
                "Shipment",
                "Confirm",
                "Invite { plan: 0, step: \"safeshop\", part: None, settle: false }",
                "Invite { plan: 1, step: \"sitejabber/review\", part: Some(\"review\"), settle: false }",
                "Invite { plan: 1, step: \"sitejabber/products\", part: Some(\"products\"), settle: false }",
                "Invited { plan: 1 }",
                "Complete",
            ]
        );
    }

    #[test]
    fn a_started_step_is_settled_and_a_done_part_is_never_sent_again() {
        let plans = plans();
        let mut r = OrderRecord::new(Order::default());
        r.fulfilment = Some("shopwedo".into());
        r.submission = Step::Started;
        assert_eq!(next(&r, &plans), Next::Submit { settle: true });
        r.submission = Step::Done(SubmissionReceipt {
            provider: "shopwedo".into(),
            reference: "9".into(),
            already_submitted: false,
        });
        r.shipped = Step::Done(Tracking::default());
        r.confirmation = Step::Done(None);
        r.invitations.insert("safeshop".into(), receipt("safeshop"));
        r.invitations
            .insert("sitejabber/review".into(), receipt("sitejabber"));
        r.invitations.insert("sitejabber/products".into(), Step::Started);
        assert_eq!(
            next(&r, &plans),
            Next::Invite {
                plan: 1,
                step: "sitejabber/products".into(),
                part: Some("products".into()),
                settle: true
            }
        );
    }

    #[test]
    fn a_split_order_waits_for_its_parts_then_invites_and_never_routes_again() {
        let plans = plans();
        let mut r = OrderRecord::new(Order::default());
        r.split = vec![crate::journal::SplitPart {
            key: "bol:1/shopwedo".into(),
            provider: "shopwedo".into(),
            lines: vec!["L1".into()],
        }];
        assert_eq!(next(&r, &plans), Next::Split);
        r.parts_added = true;
        assert_eq!(next(&r, &plans), Next::Split, "waits for its parts");
        r.parts_done = true;
        assert!(
            matches!(next(&r, &plans), Next::Invite { plan: 0, .. }),
            "{:?}",
            next(&r, &plans)
        );
        // A part invites nowhere: it completes once confirmed.
        let mut part = OrderRecord::new(Order::default());
        part.invites_elsewhere = true;
        part.fulfilment = Some("shopwedo".into());
        part.submission = Step::Done(SubmissionReceipt {
            provider: "shopwedo".into(),
            reference: "9".into(),
            already_submitted: false,
        });
        part.shipped = Step::Done(Tracking::default());
        part.confirmation = Step::Done(None);
        assert_eq!(next(&part, &[]), Next::Complete);
        assert!(part.is_complete(&["safeshop".to_owned()]));
    }

    #[test]
    fn the_rows_that_act_settle_an_unknown_outcome_without_guessing() {
        for rule in TABLE {
            assert_eq!(rule.acts, rule.unknown != Unknown::Repeat, "{rule:?}");
        }
    }
}
