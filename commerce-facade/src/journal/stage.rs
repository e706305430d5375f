//! Where an order stands: the steps of an order in their order ([`Stage::STEPS`]), read by
//! the record's stage ([`OrderRecord::stage`]) and the CLI (`commerce status`); the flow's
//! table has a row per step in this order (its tests keep the two the same).

use super::OrderRecord;

/// A step of an order, or how its work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Choosing the fulfilment provider that has the stock.
    Route,
    /// Split over several providers: its parts go on as orders of their own; it waits
    /// for them to end.
    Split,
    /// Handing the order over to its fulfilment provider.
    Submit,
    /// Waiting for the parcel to leave.
    Shipment,
    /// Confirming the shipment on the sales channel.
    Confirm,
    /// Inviting the buyer to review, on each platform.
    Invite,
    /// Every step done.
    Completed,
    /// Ended without completing: every line cancelled, or an operator cancelled it.
    Cancelled,
    /// Waiting for a person (the record says why).
    Attention,
}

impl Stage {
    /// The steps of an order, in the order an order goes through them (the flow's table
    /// follows it: a test keeps the two the same).
    pub const STEPS: [Stage; 6] = [
        Stage::Route,
        Stage::Split,
        Stage::Submit,
        Stage::Shipment,
        Stage::Confirm,
        Stage::Invite,
    ];

    /// Every stage: the steps, then how an order's work ends or stops.
    pub const ALL: [Stage; 9] = [
        Stage::Route,
        Stage::Split,
        Stage::Submit,
        Stage::Shipment,
        Stage::Confirm,
        Stage::Invite,
        Stage::Completed,
        Stage::Cancelled,
        Stage::Attention,
    ];

    /// Its name in events, the journal's history, `commerce status` and the docs.
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Route => "route",
            Stage::Split => "split",
            Stage::Submit => "submit",
            Stage::Shipment => "shipment",
            Stage::Confirm => "confirm",
            Stage::Invite => "invite",
            Stage::Completed => "completed",
            Stage::Cancelled => "cancelled",
            Stage::Attention => "attention",
        }
    }

    /// How far along an order at this stage is, for claiming: of the orders due at once,
    /// the one furthest along goes first (an invitation before a confirmation before a
    /// shipment check before a hand-over before routing a new order), so work under way
    /// reaches the slowest provider before new work takes the workers: 4 (invite) down to 0
    /// (route, or not open). Stored with each record (the journals' `rank` column), so the
    /// values never change.
    pub fn rank(self) -> i32 {
        match self {
            Stage::Invite => 4,
            Stage::Confirm => 3,
            Stage::Shipment => 2,
            Stage::Submit | Stage::Split => 1,
            Stage::Route | Stage::Completed | Stage::Cancelled | Stage::Attention => 0,
        }
    }

    /// Whether this step is still to be done for the record, read from the record alone
    /// (the invitations are done when the order is completed: which platforms it needs is
    /// the runner's to say). An order split over providers (one with parts) goes through
    /// `split` instead of `route` to `confirm`: its parts do those.
    pub fn pending(self, r: &OrderRecord) -> bool {
        let whole = r.split.is_empty();
        match self {
            Stage::Route => whole && r.fulfilment.is_none(),
            Stage::Split => !whole && !r.split.has_ended(),
            Stage::Submit => whole && !r.submission.is_done(),
            Stage::Shipment => whole && !r.shipped.is_done(),
            Stage::Confirm => whole && !r.confirmation.is_done(),
            Stage::Invite => r.completed_at.is_none(),
            Stage::Completed | Stage::Cancelled | Stage::Attention => false,
        }
    }

    /// Where the record stands: how its work ended or stopped, else its first step still
    /// to be done.
    pub fn of(r: &OrderRecord) -> Stage {
        if r.completed_at.is_some() {
            Stage::Completed
        } else if r.cancelled.is_some() {
            Stage::Cancelled
        } else if r.attention.is_some() {
            Stage::Attention
        } else {
            Stage::STEPS
                .into_iter()
                .find(|s| s.pending(r))
                .unwrap_or(Stage::Invite)
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Stage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_the_steps_come_first() {
        let names: std::collections::BTreeSet<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), Stage::ALL.len());
        assert_eq!(&Stage::ALL[..6], &Stage::STEPS[..]);
    }
}
