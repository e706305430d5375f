//! The order loop: the runners of the table's rows (`steps::TABLE`), one module per step,
//! dispatched by the engine (`engine::Held::advance`).

mod changes;
mod confirm;
mod invite;
mod route;
mod shipment;
mod split;
mod submit;

use super::engine::Row;
use super::steps::TABLE;

/// The order loop as the engine runs it: each row of the table with its runner, in the
/// table's order.
pub(crate) const LOOP: [Row; 7] = [
    Row {
        rule: &TABLE[0],
        run: changes::run,
    },
    Row {
        rule: &TABLE[1],
        run: route::run,
    },
    Row {
        rule: &TABLE[2],
        run: split::run,
    },
    Row {
        rule: &TABLE[3],
        run: submit::run,
    },
    Row {
        rule: &TABLE[4],
        run: shipment::run,
    },
    Row {
        rule: &TABLE[5],
        run: confirm::run,
    },
    Row {
        rule: &TABLE[6],
        run: invite::run,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_runs_every_row_of_the_table_in_its_order() {
        let names: Vec<&str> = LOOP.iter().map(|row| row.rule.name()).collect();
        let table: Vec<&str> = TABLE.iter().map(|rule| rule.name()).collect();
        assert_eq!(names, table);
    }
}
