//! Layer 2, pure policy: what the transport does after an attempt, as a pure function of what happened: the
//! replay table of ARCHITECTURE.md ("Retries and replay safety").
//!
//! [`decide`] reads no clock and does no I/O: the caller reads the time left before the
//! deadline and the next backoff wait and hands them in ([`Call`]), then carries out the
//! [`Step`] (sleeps, pauses the bucket, renews the credentials, returns). The tests below
//! walk the table row by row and check that ARCHITECTURE.md quotes it word for word.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{AuthError, Delivery, Error, Name, ProviderError, RetryHint, unreadable};
use crate::wire::endpoint::Replay;

/// What one attempt came to: `R` is the answer (the client's [`Response`](crate::Response)),
/// `T` what the credentials were (the authenticator's [`AuthTicket`](crate::AuthTicket));
/// the decision only hands them on.
pub(crate) enum Outcome<R, T> {
    /// The provider answered with success.
    Done(R),
    /// Failed on the way: no answer came.
    Lost {
        /// The transport error or time-out.
        error: Error,
        /// Whether the request may have reached the provider.
        delivery: Delivery,
    },
    /// The provider answered with an error ([`Verdict::Failure`](crate::Verdict::Failure)).
    Failed(ProviderError),
    /// The provider said the credentials expired
    /// ([`Verdict::AuthExpired`](crate::Verdict::AuthExpired)).
    CredentialsExpired {
        /// What the provider said.
        error: ProviderError,
        /// The credentials the attempt used.
        ticket: T,
    },
    /// The provider refused the credentials for good
    /// ([`Verdict::AuthRejected`](crate::Verdict::AuthRejected)).
    CredentialsRefused {
        /// What the provider said.
        error: ProviderError,
        /// The credentials the attempt used.
        ticket: T,
    },
    /// No credentials could be had (a failed token request): nothing was sent.
    NoCredentials {
        /// Why.
        error: Error,
        /// How long the authenticator will go on failing without asking the provider
        /// ([`Authenticator::ready_in`](crate::Authenticator::ready_in), read when it
        /// failed).
        cool_down: Duration,
    },
    /// A success answer that cannot be read (too large): the call may have acted.
    Unreadable(Error),
    /// What cannot pass until the configuration changes ([`Error::Misconfigured`]: a TLS
    /// handshake that failed, a base URL answering 404 with something that is not the
    /// provider's API): never sent again.
    Unusable(Error),
}

/// The call's deadline as the decision sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// The time left until it (zero once it has passed).
    pub(crate) left: Duration,
    /// How long it was from the start of the call (what a time-out it cuts reports).
    pub(crate) whole: Duration,
}

/// What [`decide`] weighs besides what happened, all of it read by the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    /// The provider.
    pub(crate) provider: &'a Name,
    /// The endpoint's name.
    pub(crate) endpoint: &'a Name,
    /// The endpoint's replay rule.
    pub(crate) replay: &'a Replay,
    /// Whether the credentials were already renewed once in this call.
    pub(crate) refreshed: bool,
    /// The next backoff wait; `None` once the retries are spent. A [`Step::Retry`] spends
    /// it.
    pub(crate) backoff: Option<Duration>,
    /// The longest wait the client accepts ([`RetryPolicy::max_wait`](crate::RetryPolicy)).
    pub(crate) max_wait: Duration,
    /// The call's deadline, if it has one.
    pub(crate) deadline: Option<Deadline>,
}

/// What the transport does next (`R` and `T` as in [`Outcome`]).
#[derive(Debug)]
pub(crate) enum Step<R, T> {
    /// The call succeeded: return the answer.
    Return(R),
    /// The call failed: return the error.
    Fail(Error),
    /// The credentials were refused for good: tell the authenticator (it cools down instead
    /// of asking again at once), then fail with `error`.
    Reject {
        /// The credentials refused.
        ticket: T,
        /// The call's error.
        error: Error,
    },
    /// The credentials expired: renew them and send again at once (no backoff wait); when
    /// they cannot be renewed, [`Step::Reject`] with `otherwise`.
    Refresh {
        /// The credentials that expired.
        ticket: T,
        /// The call's error if they cannot be renewed.
        otherwise: Error,
    },
    /// Send again once the wait is over; `cause` is what failed (for the log).
    Retry {
        /// How to wait.
        wait: Wait,
        /// What failed.
        cause: Error,
    },
}

/// How the transport waits before sending again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Sleep this long. (A `Retry-After` header on the answer has already paused the rate
    /// bucket, which the next attempt waits for.)
    Sleep(Duration),
    /// Pause the whole rate bucket this long, for every caller of it, since all of them are
    /// over the provider's limit, not just this one; the next attempt waits for the pause.
    PauseBucket(Duration),
}

impl Wait {
    /// How long the wait is.
    pub(crate) fn duration(self) -> Duration {
        match self {
            Wait::Sleep(d) | Wait::PauseBucket(d) => d,
        }
    }
}

/// Whether a success answer of an endpoint with this replay rule means the call may have
/// acted at the provider (a create or a change), so that an answer that cannot be read
/// leaves its outcome unknown.
pub(crate) fn may_act(replay: &Replay) -> bool {
    *replay != Replay::Always
}

/// What the transport does after an attempt came to `outcome`: the replay table of
/// ARCHITECTURE.md, "Retries and replay safety".
pub(crate) fn decide<R, T>(outcome: Outcome<R, T>, call: &Call<'_>) -> Step<R, T> {
    // Whether waiting `wait` more would reach the deadline.
    let too_late = |wait: Duration| call.deadline.is_some_and(|d| wait >= d.left);
    let unconfirmed = |source: Error| Error::Unconfirmed {
        provider: call.provider.clone(),
        endpoint: call.endpoint.clone(),
        source: Arc::new(source),
    };
    match outcome {
        Outcome::Done(response) => Step::Return(response),
        Outcome::Lost { error, delivery } => {
            if delivery == Delivery::MaybeSent && !call.replay.after_possible_delivery() {
                return Step::Fail(unconfirmed(error));
            }
            if let Some(deadline) = call.deadline
                && too_late(Duration::ZERO)
            {
                // Cut by the deadline: the time limit that ran out is the call's.
                return Step::Fail(match error {
                    Error::Timeout { delivery, .. } => Error::Timeout {
                        provider: call.provider.clone(),
                        endpoint: call.endpoint.clone(),
                        after: deadline.whole,
                        delivery,
                    },
                    error => error,
                });
            }
            match call.backoff {
                Some(wait) if !too_late(wait) => Step::Retry {
                    wait: Wait::Sleep(wait),
                    cause: error,
                },
                _ => Step::Fail(error),
            }
        }
        Outcome::CredentialsExpired { error, ticket } => {
            if call.refreshed {
                // Still refused with fresh credentials: not an expiry.
                Step::Reject {
                    ticket,
                    error: auth_error(&error, "refused again with fresh credentials"),
                }
            } else {
                Step::Refresh {
                    ticket,
                    otherwise: auth_error(&error, "credentials refused"),
                }
            }
        }
        Outcome::CredentialsRefused { error, ticket } => Step::Reject {
            ticket,
            error: auth_error(&error, "credentials refused"),
        },
        Outcome::NoCredentials { error, cool_down } => {
            // Nothing was sent. A transient failure of the token request is retried like any
            // call, but never before the authenticator's cool-down is over.
            if !error.is_retryable() {
                return Step::Fail(error);
            }
            let Some(wait) = call.backoff else {
                return Step::Fail(error);
            };
            let wait = wait.max(cool_down).max(error.retry_after().unwrap_or_default());
            if wait > call.max_wait || too_late(wait) {
                return Step::Fail(error);
            }
            Step::Retry {
                wait: Wait::Sleep(wait),
                cause: error,
            }
        }
        Outcome::Unusable(error) => Step::Fail(error),
        Outcome::Unreadable(error) => Step::Fail(unreadable(
            error,
            !may_act(call.replay),
            call.provider,
            call.endpoint,
        )),
        Outcome::Failed(error) => {
            let hint = error.retry_hint;
            match hint {
                RetryHint::Final => return Step::Fail(Error::from(error)),
                // The provider refused without acting: sent again whatever the replay rule.
                RetryHint::Throttled | RetryHint::Unavailable => {}
                // A gateway may have passed the request on.
                RetryHint::Gateway => {
                    if !call.replay.after_possible_delivery() {
                        return Step::Fail(unconfirmed(Error::from(error)));
                    }
                }
            }
            let asked = error.retry_after;
            let give_up = |error: ProviderError| {
                if hint == RetryHint::Throttled {
                    Error::RateLimited {
                        provider: call.provider.clone(),
                        endpoint: call.endpoint.clone(),
                        retry_after: asked,
                        answer: Some(Box::new(error)),
                    }
                } else {
                    Error::from(error)
                }
            };
            if asked.is_some_and(|w| w > call.max_wait) {
                return Step::Fail(give_up(error));
            }
            let Some(wait) = call.backoff else {
                return Step::Fail(give_up(error));
            };
            let longest = asked.unwrap_or_default().max(wait);
            if too_late(longest) {
                return Step::Fail(give_up(error));
            }
            let wait = if hint == RetryHint::Throttled {
                // The provider's Retry-After or the backoff wait, whichever is longer, so a
                // `Retry-After: 0` still backs off.
                Wait::PauseBucket(longest)
            } else {
                Wait::Sleep(wait)
            };
            Step::Retry {
                wait,
                cause: Error::from(error),
            }
        }
    }
}

/// An [`Error::Auth`] carrying what the provider said.
fn auth_error(error: &ProviderError, fallback: &str) -> Error {
    let message = error
        .message
        .clone()
        .or_else(|| error.body_excerpt.clone())
        .unwrap_or_else(|| fallback.to_owned());
    Error::from(AuthError {
        status: Some(error.status),
        code: error.code.clone(),
        ..AuthError::new(error.provider.clone(), error.endpoint.clone(), message)
    })
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::auth::AuthTicket;
    use crate::wire::response::Response;

    /// What the table's rows happen with: the client's answer and credentials.
    type Outcome = super::Outcome<Response, AuthTicket>;
    /// What the table's rows come to.
    type Step = super::Step<Response, AuthTicket>;

    const PROVIDER: Name = Name::Borrowed("shop");
    const ENDPOINT: Name = Name::Borrowed("orders");
    const BACKOFF: Duration = Duration::from_millis(250);

    /// What a row's case is expected to come to under one replay rule.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Expect {
        /// Sent again, after a wait of at least this long.
        Retried(Duration),
        /// The credentials renewed, and the call sent again at once.
        Refreshed,
        /// Failed with an authentication error the authenticator is told of.
        Rejected,
        /// Failed with [`Error::Unconfirmed`].
        Unconfirmed,
        /// Failed with the error as it came (an answer's error as [`Error::Provider`]).
        Returned,
    }
    use Expect::*;

    /// One thing that can happen, and what it comes to under each replay rule.
    struct Case {
        happened: Box<dyn Fn() -> Outcome>,
        /// Whether the credentials were already renewed in this call.
        refreshed: bool,
        always: Expect,
        never: Expect,
    }

    /// One row of the table: its words, and the cases that stand for it.
    struct Row {
        what: &'static str,
        always: &'static str,
        never: &'static str,
        cases: Vec<Case>,
    }

    fn case(happened: impl Fn() -> Outcome + 'static, always: Expect, never: Expect) -> Case {
        Case {
            happened: Box::new(happened),
            refreshed: false,
            always,
            never,
        }
    }

    impl Case {
        /// The case after the credentials were renewed once in the call.
        fn refreshed(mut self) -> Case {
            self.refreshed = true;
            self
        }
    }

    fn timeout(delivery: Delivery) -> Error {
        Error::Timeout {
            provider: PROVIDER,
            endpoint: ENDPOINT,
            after: Duration::from_secs(30),
            delivery,
        }
    }

    fn answer(status: u16) -> ProviderError {
        ProviderError::new(PROVIDER, ENDPOINT, status)
    }

    fn failed(status: u16) -> Outcome {
        Outcome::Failed(answer(status))
    }

    /// The rows of ARCHITECTURE.md's table, "Retries and replay safety", in its words.
    fn rows() -> Vec<Row> {
        vec![
            Row {
                what: "connection never made",
                always: "retried",
                never: "retried (nothing was sent)",
                // (The kind of error does not matter here, only where it failed.)
                cases: vec![case(
                    || Outcome::Lost {
                        error: timeout(Delivery::NotSent),
                        delivery: Delivery::NotSent,
                    },
                    Retried(BACKOFF),
                    Retried(BACKOFF),
                )],
            },
            Row {
                what: "429, or 503 (`RetryHint::Throttled`, `Unavailable`)",
                always: "retried (after `Retry-After` if given)",
                never: "retried: the provider refused without acting",
                cases: vec![
                    case(|| failed(429), Retried(BACKOFF), Retried(BACKOFF)),
                    case(|| failed(503), Retried(BACKOFF), Retried(BACKOFF)),
                    case(
                        || {
                            let mut e = answer(429);
                            e.retry_after = Some(Duration::from_secs(3));
                            Outcome::Failed(e)
                        },
                        Retried(Duration::from_secs(3)),
                        Retried(Duration::from_secs(3)),
                    ),
                    // A provider's own code, with the HTTP status it came with (Sitejabber).
                    case(
                        || Outcome::Failed(answer(200).with_retry_hint(RetryHint::Throttled)),
                        Retried(BACKOFF),
                        Retried(BACKOFF),
                    ),
                    case(
                        || Outcome::Failed(answer(200).with_retry_hint(RetryHint::Unavailable)),
                        Retried(BACKOFF),
                        Retried(BACKOFF),
                    ),
                ],
            },
            Row {
                what: "401 \"expired\"",
                always: "refresh once, retry once",
                never: "refresh once, retry once: refused before acting",
                cases: vec![
                    case(expired, Refreshed, Refreshed),
                    // The retry after the renewal refused again.
                    case(expired, Rejected, Rejected).refreshed(),
                ],
            },
            Row {
                what: "time-out, dropped connection, 502, 504 (`RetryHint::Gateway`)",
                always: "retried",
                never: "**not re-sent**: `Error::Unconfirmed`",
                cases: vec![
                    case(
                        || Outcome::Lost {
                            error: timeout(Delivery::MaybeSent),
                            delivery: Delivery::MaybeSent,
                        },
                        Retried(BACKOFF),
                        Unconfirmed,
                    ),
                    case(|| failed(502), Retried(BACKOFF), Unconfirmed),
                    case(|| failed(504), Retried(BACKOFF), Unconfirmed),
                ],
            },
            Row {
                what: "2xx whose body cannot be read (undecodable, too large)",
                always: "`Decode` / `TooLarge`",
                never: "**`Error::Unconfirmed`** (the create may have happened)",
                // The transport decides on a body too large; `Response::json` on one that
                // does not decode, with the same rule (`may_act`, `unreadable`).
                cases: vec![
                    case(
                        || {
                            Outcome::Unreadable(Error::TooLarge {
                                provider: PROVIDER,
                                endpoint: ENDPOINT,
                                limit: 10,
                                declared: None,
                            })
                        },
                        Returned,
                        Unconfirmed,
                    ),
                    case(
                        || {
                            Outcome::Unreadable(Error::from(crate::error::DecodeError::new(
                                PROVIDER,
                                ENDPOINT,
                                ".",
                                "expected a map",
                            )))
                        },
                        Returned,
                        Unconfirmed,
                    ),
                ],
            },
            Row {
                what: "no token could be had (nothing sent)",
                always: "retried if the token failure is transient, after the cool-down",
                never: "the same",
                cases: vec![
                    case(
                        || Outcome::NoCredentials {
                            error: Error::from(answer(503)),
                            cool_down: Duration::from_secs(5),
                        },
                        Retried(Duration::from_secs(5)),
                        Retried(Duration::from_secs(5)),
                    ),
                    case(
                        || Outcome::NoCredentials {
                            error: Error::from(AuthError::new(PROVIDER, "token", "invalid_client")),
                            cool_down: Duration::from_secs(5),
                        },
                        Returned,
                        Returned,
                    ),
                ],
            },
            Row {
                what: "TLS handshake failed, or a 404 that is not the API's (`Error::Misconfigured`)",
                always: "returned (`stops_provider`)",
                never: "returned (`stops_provider`)",
                cases: vec![case(
                    || {
                        Outcome::Unusable(Error::Misconfigured {
                            provider: PROVIDER,
                            endpoint: ENDPOINT,
                            status: None,
                            delivery: Delivery::NotSent,
                            message: "the TLS handshake failed".into(),
                        })
                    },
                    Returned,
                    Returned,
                )],
            },
            Row {
                what: "other 4xx / 5xx (`RetryHint::Final`)",
                always: "returned",
                never: "returned",
                cases: [400, 403, 404, 409, 422, 500, 501]
                    .into_iter()
                    .map(|status| case(move || failed(status), Returned, Returned))
                    .collect(),
            },
        ]
    }

    fn expired() -> Outcome {
        Outcome::CredentialsExpired {
            error: answer(401),
            ticket: AuthTicket::generation(1),
        }
    }

    /// The table as ARCHITECTURE.md shows it.
    fn render(rows: &[Row]) -> String {
        let mut out = String::from(
            "| what happened | `Replay::Always` (GET, PUT, DELETE, reads sent as POST) \
             | `Replay::Never` (POST, PATCH: creates) |\n|---|---|---|\n",
        );
        for row in rows {
            writeln!(out, "| {} | {} | {} |", row.what, row.always, row.never).unwrap();
        }
        out
    }

    fn call(replay: &Replay, refreshed: bool) -> Call<'_> {
        Call {
            provider: &PROVIDER,
            endpoint: &ENDPOINT,
            replay,
            refreshed,
            backoff: Some(BACKOFF),
            max_wait: Duration::from_secs(120),
            deadline: None,
        }
    }

    /// Whether `step` is what `expect` says of `happened`.
    fn check(step: &Step, expect: Expect, happened: &Outcome) -> Result<(), String> {
        let ok = match (expect, step) {
            (Retried(least), Step::Retry { wait, .. }) => wait.duration() >= least,
            (Refreshed, Step::Refresh { otherwise, .. }) => otherwise.is_auth(),
            (Rejected, Step::Reject { error, .. }) => error.is_auth(),
            (Unconfirmed, Step::Fail(error)) => error.is_unconfirmed(),
            (Returned, Step::Fail(error)) => match happened {
                Outcome::Failed(answer) => error.as_provider_error() == Some(answer),
                Outcome::Lost { error: e, .. }
                | Outcome::NoCredentials { error: e, .. }
                | Outcome::Unreadable(e)
                | Outcome::Unusable(e) => std::mem::discriminant(e) == std::mem::discriminant(error),
                _ => false,
            },
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("expected {expect:?}, got {step:?}"))
        }
    }

    #[test]
    fn every_row_of_the_replay_table_holds() {
        for row in rows() {
            assert!(!row.cases.is_empty(), "{}", row.what);
            for case in &row.cases {
                for (replay, expect) in [(Replay::Always, case.always), (Replay::Never, case.never)] {
                    let step = decide((case.happened)(), &call(&replay, case.refreshed));
                    if let Err(wrong) = check(&step, expect, &(case.happened)()) {
                        panic!("{} under {replay:?}: {wrong}", row.what);
                    }
                }
            }
        }
    }

    #[test]
    fn retries_end_with_the_backoff_the_deadline_or_a_wait_too_long() {
        let always = Replay::Always;
        let throttled = |after: Option<u64>| {
            let mut e = answer(429);
            e.retry_after = after.map(Duration::from_secs);
            Outcome::Failed(e)
        };
        // Retries spent: a 429 gives up as `RateLimited` with the answer, a 503 as itself.
        let spent = Call {
            backoff: None,
            ..call(&always, false)
        };
        assert!(matches!(
            decide(throttled(None), &spent),
            Step::Fail(Error::RateLimited { answer: Some(_), .. })
        ));
        assert!(matches!(
            decide(failed(503), &spent),
            Step::Fail(Error::Provider(_))
        ));
        assert!(matches!(
            decide(
                Outcome::Lost {
                    error: timeout(Delivery::NotSent),
                    delivery: Delivery::NotSent
                },
                &spent
            ),
            Step::Fail(Error::Timeout { .. })
        ));
        // A `Retry-After` longer than the client waits.
        assert!(matches!(
            decide(throttled(Some(121)), &call(&always, false)),
            Step::Fail(Error::RateLimited { .. })
        ));
        // A wait that reaches the deadline; a deadline passed cuts a time-out to the call's.
        let short = Call {
            deadline: Some(Deadline {
                left: Duration::from_secs(2),
                whole: Duration::from_secs(10),
            }),
            ..call(&always, false)
        };
        assert!(matches!(decide(throttled(Some(3)), &short), Step::Fail(_)));
        assert!(matches!(decide(throttled(Some(1)), &short), Step::Retry { .. }));
        let passed = Call {
            deadline: Some(Deadline {
                left: Duration::ZERO,
                whole: Duration::from_secs(10),
            }),
            ..call(&always, false)
        };
        let lost = Outcome::Lost {
            error: timeout(Delivery::MaybeSent),
            delivery: Delivery::MaybeSent,
        };
        assert!(matches!(
            decide(lost, &passed),
            Step::Fail(Error::Timeout { after, .. }) if after == Duration::from_secs(10)
        ));
        // A 429 pauses the bucket for the longer of `Retry-After` and the backoff wait; a 503
        // sleeps the backoff wait (its `Retry-After` header already paused the bucket).
        let Step::Retry { wait, .. } = decide(throttled(Some(0)), &call(&always, false)) else {
            panic!("retried");
        };
        assert_eq!(wait, Wait::PauseBucket(BACKOFF));
        let Step::Retry { wait, .. } = decide(failed(503), &call(&always, false)) else {
            panic!("retried");
        };
        assert_eq!(wait, Wait::Sleep(BACKOFF));
    }

    /// ARCHITECTURE.md quotes the table [`rows`] checks, word for word. (The file is not
    /// part of the published crate: there, this says so and checks nothing.)
    #[test]
    fn architecture_md_quotes_the_replay_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ARCHITECTURE.md");
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("{} not found (a packaged crate): not checked", path.display());
            return;
        };
        let table = render(&rows());
        assert!(
            text.contains(&table),
            "ARCHITECTURE.md, \"Retries and replay safety\", must show the table exactly as \
             `decide::tests::rows` has it:\n\n{table}"
        );
    }
}
