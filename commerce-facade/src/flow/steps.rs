//! The flow as one table: the steps of an order, in order ([`Stage::STEPS`]), what each
//! runs, what the journal records, and what an unknown outcome (a call begun, then the
//! process died or the answer was lost or unreadable) does. Each row is a [`Rule`]; [`next`]
//! reads an order's record against the rows, in order, and says which call comes next; the
//! engine (`engine`) runs it through the row's runner (`order`), journals it, and asks
//! again.
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

use crate::journal::{OrderRecord, Stage, Step};

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

impl Rule {
    /// The step's name in events, the journal's history and `commerce status` (its
    /// stage's; `changes` for the row that has none).
    pub(crate) const fn name(&self) -> &'static str {
        match self.stage {
            Some(stage) => stage.name(),
            None => "changes",
        }
    }
}

impl Unknown {
    /// Whether a call the provider answered with a refusal (a definite failure: nothing
    /// happened) goes back to not begun, journaled, so the next visit sends it as new. A
    /// step the provider checks before it acts is simply asked again: it stays begun.
    pub(crate) fn resets_on_refusal(self) -> bool {
        matches!(self, Unknown::LookUp | Unknown::RepeatIfRefused)
    }
}

/// Whose rate limit paces a step: before it reads or sends anything, an order whose step's
/// provider could take a call only much later is given back (`engine::PATIENCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pace {
    /// Not paced (the channel's own steps).
    Never,
    /// The first fulfilment provider whose stock routing reads.
    FirstRead,
    /// The order's fulfilment provider.
    Fulfilment,
    /// The invitation's review platform.
    Platform,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    /// The step (`None`: `changes`, which runs before the steps that read it).
    pub stage: Option<Stage>,
    /// Whether its call can change something at the provider.
    pub acts: bool,
    /// What an unknown outcome does.
    pub unknown: Unknown,
    /// Whether the channel's view of the order is read (`changes`) before this step: the
    /// steps that hand over, wait for or confirm what the buyer may still cancel.
    pub reads_changes: bool,
    /// Whose rate limit paces it.
    pub pace: Pace,
    /// The record's next call at this step, if the step is still to do.
    pub next: fn(&OrderRecord, &[InvitePlan]) -> Option<Next>,
}

/// The table: `changes`, then one row per step in [`Stage::STEPS`]'s order (`changes`
/// runs once per visit, before the first step that reads it, and again before `confirm`).
pub(crate) const TABLE: [Rule; 7] = [
    Rule {
        stage: None,
        acts: true,
        unknown: Unknown::AskAgain,
        reads_changes: false,
        pace: Pace::Never,
        next: |_, _| None,
    },
    Rule {
        stage: Some(Stage::Route),
        acts: false,
        unknown: Unknown::Repeat,
        reads_changes: true,
        pace: Pace::FirstRead,
        next: |r, _| Stage::Route.pending(r).then_some(Next::Route),
    },
    Rule {
        stage: Some(Stage::Split),
        acts: false,
        unknown: Unknown::Repeat,
        reads_changes: false,
        pace: Pace::Never,
        next: |r, _| Stage::Split.pending(r).then_some(Next::Split),
    },
    Rule {
        stage: Some(Stage::Submit),
        acts: true,
        unknown: Unknown::LookUp,
        reads_changes: true,
        pace: Pace::Fulfilment,
        next: |r, _| {
            Stage::Submit.pending(r).then_some(Next::Submit {
                settle: r.submission == Step::Started,
            })
        },
    },
    Rule {
        stage: Some(Stage::Shipment),
        acts: false,
        unknown: Unknown::Repeat,
        reads_changes: true,
        pace: Pace::Fulfilment,
        next: |r, _| Stage::Shipment.pending(r).then_some(Next::Shipment),
    },
    Rule {
        stage: Some(Stage::Confirm),
        acts: true,
        unknown: Unknown::AskAgain,
        reads_changes: true,
        pace: Pace::Never,
        next: |r, _| Stage::Confirm.pending(r).then_some(Next::Confirm),
    },
    Rule {
        stage: Some(Stage::Invite),
        acts: true,
        unknown: Unknown::RepeatIfRefused,
        reads_changes: false,
        pace: Pace::Platform,
        next: next_invitation,
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

/// The call an order needs next.
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
    /// The step it belongs to (`Complete`: the last).
    #[cfg(test)]
    pub(crate) fn stage(&self) -> Stage {
        match self {
            Next::Route => Stage::Route,
            Next::Split => Stage::Split,
            Next::Submit { .. } => Stage::Submit,
            Next::Shipment => Stage::Shipment,
            Next::Confirm => Stage::Confirm,
            Next::Invite { .. } | Next::Invited { .. } | Next::Complete => Stage::Invite,
        }
    }

    /// Whether the channel's view of the order is read (`changes`) before this call (a
    /// hand-over being settled is not: its outcome is settled first).
    pub(crate) fn reads_changes(&self) -> bool {
        self.rule().reads_changes && !matches!(self, Next::Submit { settle: true })
    }

    /// The table's row for this call.
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

/// The next call of the invitations: each platform's calls in turn, a platform's own step
/// once every call of it is done.
fn next_invitation(r: &OrderRecord, plans: &[InvitePlan]) -> Option<Next> {
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
                    return Some(Next::Invite {
                        plan: i,
                        step: step.clone(),
                        part: part.clone(),
                        settle: legacy || started == Some(&Step::Started),
                    });
                }
            }
        }
        return Some(Next::Invited { plan: i });
    }
    None
}

/// Reads the record against the table: the first row, in order, with a call to make.
pub(crate) fn next(r: &OrderRecord, plans: &[InvitePlan]) -> Next {
    TABLE
        .iter()
        .find_map(|rule| (rule.next)(r, plans))
        .unwrap_or(Next::Complete)
}

/// The table as Markdown, as ARCHITECTURE.md shows it (a test keeps the two the same).
#[cfg(test)]
pub(crate) fn markdown() -> String {
    let mut out = String::from(
        "| step | acts | an unknown outcome | reads `changes` first | paced by |\n|---|---|---|---|---|\n",
    );
    for rule in TABLE {
        out += &format!(
            "| `{}` | {} | {:?} | {} | {:?} |\n",
            rule.name(),
            if rule.acts { "yes" } else { "no (reads)" },
            rule.unknown,
            if rule.reads_changes { "yes" } else { "no" },
            rule.pace
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Split;
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
        let parts = vec![crate::journal::SplitPart {
            key: "bol:1/shopwedo".into(),
            provider: "shopwedo".into(),
            lines: vec!["L1".into()],
        }];
        r.split = Split::Planned(parts.clone());
        assert_eq!(next(&r, &plans), Next::Split);
        r.split = Split::Added(parts.clone());
        assert_eq!(next(&r, &plans), Next::Split, "waits for its parts");
        r.split = Split::Ended(parts);
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

    #[test]
    fn architecture_md_shows_the_rules_as_declared() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ARCHITECTURE.md");
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("{} not found (a packaged crate): not checked", path.display());
            return;
        };
        let table = markdown();
        assert!(
            text.contains(&table),
            "ARCHITECTURE.md must show the flow's rules exactly as `steps::TABLE` declares them:\n\n{table}"
        );
    }

    /// The steps are written once ([`Stage::STEPS`]): the table has a row for each, in
    /// that order, after `changes`.
    #[test]
    fn the_table_has_a_row_per_step_in_the_one_order() {
        let stages: Vec<Stage> = TABLE.iter().filter_map(|r| r.stage).collect();
        assert_eq!(stages, Stage::STEPS);
        assert_eq!(TABLE[0].stage, None);
    }

    /// The record's stage and the table agree: the step `next` gives is the one
    /// `OrderRecord::stage` names, at every point of an order's way, whole or split (and a
    /// record with a person's attention, cancelled or completed says so whatever its steps).
    #[test]
    fn the_records_stage_is_the_step_the_table_runs_next() {
        let plans = plans();
        let parts = vec![crate::journal::SplitPart {
            key: "bol:1/shopwedo".into(),
            provider: "shopwedo".into(),
            lines: vec!["L1".into()],
        }];
        let mut split = OrderRecord::new(Order::default());
        split.split = Split::Planned(parts.clone());
        for mut r in [OrderRecord::new(Order::default()), split] {
            let mut seen = Vec::new();
            loop {
                let step = next(&r, &plans);
                assert_eq!(r.position(), step.stage(), "{r:#?}");
                for (end, set) in [
                    (
                        Stage::Attention,
                        (|r: &mut OrderRecord| r.attention = Some("x".into())) as fn(&mut _),
                    ),
                    (Stage::Cancelled, |r| r.cancelled = Some("x".into())),
                    (Stage::Completed, |r| r.completed_at = Some(chrono::Utc::now())),
                ] {
                    let mut ended = r.clone();
                    set(&mut ended);
                    assert_eq!(ended.position(), end);
                }
                seen.push(step.stage());
                if !advance(&mut r, step, &plans, &parts) {
                    break;
                }
            }
            seen.dedup();
            assert!(seen.len() >= 2, "{seen:?}");
        }
    }

    /// Does the step `step` on `r`, as the flow would; `false` once complete.
    fn advance(
        r: &mut OrderRecord,
        step: Next,
        plans: &[InvitePlan],
        parts: &[crate::journal::SplitPart],
    ) -> bool {
        {
            match step {
                Next::Route => r.fulfilment = Some("shopwedo".into()),
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
                Next::Split if r.split.parts_added() => r.split = Split::Ended(parts.to_vec()),
                Next::Split => r.split = Split::Added(parts.to_vec()),
                Next::Complete => return false,
            }
        }
        true
    }
}
