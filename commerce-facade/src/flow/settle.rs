//! Settling a step whose outcome is unknown (see the table in `steps`): never by guessing.
//! A look-up where the provider offers one; a repeat where the provider refuses duplicates
//! or checks before it acts; otherwise the order stops for a person, with what to check.

use commerce_core::{Error, Fulfilment, ReviewPlatform, SubmissionReceipt};

use super::steps::{Rule, Unknown};

/// What to do about a step begun before.
#[derive(Debug)]
pub(crate) enum Settled<T> {
    /// It went through: here is what it produced.
    Found(T),
    /// Safe to send (again).
    Send,
    /// A person must check; the reason says what.
    Person(String),
}

/// A submission begun before: looked up at the provider.
pub(crate) async fn submission(
    rule: &Rule,
    f: &dyn Fulfilment,
    order_id: &str,
    resend_unconfirmed: bool,
) -> Result<Settled<SubmissionReceipt>, Error> {
    debug_assert_eq!(rule.unknown, Unknown::LookUp);
    match f.find_submission(order_id).await {
        Ok(Some(receipt)) => Ok(Settled::Found(receipt)),
        Ok(None) => Ok(Settled::Send),
        Err(Error::Unsupported { .. }) if resend_unconfirmed => Ok(Settled::Send),
        Err(Error::Unsupported { .. }) => Ok(Settled::Person(format!(
            "{name} may have received order {order_id} (its outcome was lost) and offers no look-up: \
             check the {name} dashboard, then `commerce resolve` (--submitted REF if it is there) or \
             `commerce retry` (if it is not)",
            name = f.name()
        ))),
        Err(e) => Err(e),
    }
}

/// An invitation call begun before.
pub(crate) fn invitation(
    rule: &Rule,
    platform: &dyn ReviewPlatform,
    step: &str,
    order_id: &str,
    resend_unconfirmed: bool,
) -> Settled<()> {
    debug_assert_eq!(rule.unknown, Unknown::RepeatIfRefused);
    if platform.repeatable_invites() || resend_unconfirmed {
        Settled::Send
    } else {
        Settled::Person(format!(
            "{step} may have received the invitation for order {order_id} (its outcome was lost) and \
             offers no look-up: check it there, then `commerce resolve --skip-step {step}` (if it was \
             sent) or `commerce retry` (if it was not)"
        ))
    }
}
