//! Money: one type for every crate, [`Money`], an exact amount in minor units (cents) with
//! its currency, and the readers and writers of the providers' wire forms.
//!
//! **Exact.** An amount is a whole number of cents (`i64`): never a binary fraction, so sums
//! and comparisons are exact. Every currency the providers use (the euro) has two decimals.
//!
//! **One rounding rule: half away from zero, to the cent** (`12.345` is 12.35, `-12.345` is
//! -12.35), applied to the amount *as written in decimals*, never to a binary
//! approximation of it (`1.005` is 1.01, although the nearest `f64` is 1.00499…). It is the
//! rule of commercial and VAT rounding in the euro area (the EU's rule for converting to the
//! euro, and what invoices and bol's prices follow), so an amount rounded here agrees with
//! the shop's books; half-even (banker's rounding) would differ from them by a cent on
//! every tie. It applies only where a provider sends more digits than cents on purpose
//! ([`Money::parse_rounded`], [`Money::from_f64_rounded`]; the Customer API's prices
//! excluding VAT, computed from the price with VAT; bol's amounts, read tolerantly as every
//! provider answer is); an amount given to this crate that is not whole cents is refused
//! ([`MoneyError::TooPrecise`]), never rounded silently.
//!
//! **Wire forms.** In the journal (and any serde form of the domain types) a [`Money`] is
//! `{"minor_units": 1299, "currency": "EUR"}`, as it always was. A provider that sends bare
//! JSON numbers in euros (bol: `12.99`) reads and writes them through [`eur_number`] and
//! [`eur_number_option`] (`#[serde(with = ...)]`): written as the JSON number serde writes
//! for the `f64` of the amount (`12.99`, `59.0`), read by the one rule.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Decimal digits of a minor unit: every currency of the providers (the euro) has cents.
pub const MINOR_DIGITS: u32 = 2;

/// Minor units in one major unit (100 cents in a euro).
const SCALE: i64 = 10_i64.pow(MINOR_DIGITS);

/// An amount carried as a JSON number (an `f64` in major units) stays below this many minor
/// units (10^15 cents, ten trillion euros): below it, the `f64`s of two amounts a cent apart
/// differ, and the shortest decimal form of an amount's `f64` is the amount itself.
const F64_LIMIT: i64 = 1_000_000_000_000_000;

/// An amount of money in minor units (cents), with its ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount in minor units (`1299` for 12.99).
    pub minor_units: i64,
    /// The currency (`EUR`).
    pub currency: String,
}

/// An amount that is not a [`Money`]: nothing is rounded silently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// Not a decimal number (`12.99`, `-3`, `0.5`).
    #[error("`{0}` is not an amount of money (digits, an optional sign and decimal point)")]
    NotANumber(String),
    /// More decimals than cents (`12.995`): not a whole number of cents.
    #[error("`{0}` is not a whole number of cents")]
    TooPrecise(String),
    /// Too large for this type (or for a JSON number to carry exactly).
    #[error("`{0}` is too large an amount")]
    OutOfRange(String),
}

impl Money {
    /// An amount in minor units.
    pub fn new(minor_units: i64, currency: impl Into<String>) -> Self {
        Money {
            minor_units,
            currency: currency.into(),
        }
    }

    /// An amount in euros given as a decimal (`12.99`), rounded to the cent by the one rule
    /// (half away from zero, on the amount as written: [`Money::from_f64_rounded`]); an
    /// amount no `i64` of cents holds (or not a number) is clamped to the nearest one
    /// (`NaN` is 0).
    pub fn eur(amount: f64) -> Self {
        Money::from_f64_rounded(amount, "EUR").unwrap_or_else(|_| {
            let clamped = if amount.is_nan() {
                0
            } else if amount > 0.0 {
                i64::MAX
            } else {
                i64::MIN
            };
            Money::new(clamped, "EUR")
        })
    }

    /// The exact amount a decimal text says (`12.99`, `-0.5`, `+3`, `12.990`): digits, an
    /// optional sign and one decimal point; spaces around it are ignored. Refused: more
    /// decimals than cents that are not zeros ([`MoneyError::TooPrecise`]), anything that is
    /// not such a number, an amount no `i64` of cents holds.
    pub fn parse(text: &str, currency: impl Into<String>) -> Result<Self, MoneyError> {
        let (minor, rest) = Decimal::read(text)?.split();
        if rest.iter().any(|d| *d != 0) {
            return Err(MoneyError::TooPrecise(text.trim().to_owned()));
        }
        Ok(Money::new(minor, currency))
    }

    /// The amount a decimal text says, rounded to the cent by the one rule (half away from
    /// zero): `12.345` is 12.35, `-12.345` is -12.35, `12.3449` is 12.34. For a provider that
    /// sends more digits on purpose; refused as [`Money::parse`] refuses, but for the digits.
    pub fn parse_rounded(text: &str, currency: impl Into<String>) -> Result<Self, MoneyError> {
        let decimal = Decimal::read(text)?;
        let negative = decimal.negative;
        let (minor, rest) = decimal.split();
        let up = rest.first().is_some_and(|d| *d >= 5);
        let minor = if up {
            let step = if negative { -1 } else { 1 };
            minor
                .checked_add(step)
                .ok_or_else(|| MoneyError::OutOfRange(text.trim().to_owned()))?
        } else {
            minor
        };
        Ok(Money::new(minor, currency))
    }

    /// The exact amount of a JSON number read as an `f64` (`12.99`): its shortest decimal
    /// form (the digits a JSON writer wrote), or the whole number of cents it stands for once
    /// the noise of binary floating point is set aside (a sum such as `38.970000000000006`
    /// is 38.97: within a millionth of a cent). Refused: an amount with more decimals than
    /// cents (`12.995`, [`MoneyError::TooPrecise`]), one of ten trillion or more, a
    /// non-finite one.
    pub fn from_f64(amount: f64, currency: impl Into<String>) -> Result<Self, MoneyError> {
        if !amount.is_finite() {
            return Err(MoneyError::NotANumber(amount.to_string()));
        }
        if amount.abs() >= (F64_LIMIT / SCALE) as f64 {
            return Err(MoneyError::OutOfRange(amount.to_string()));
        }
        let currency = currency.into();
        // `Display` of an `f64` is its shortest round-trip decimal form, never in exponent
        // notation.
        match Money::parse(&amount.to_string(), currency.clone()) {
            Err(MoneyError::TooPrecise(text)) => {
                let cents = amount * SCALE as f64;
                let whole = cents.round();
                if (cents - whole).abs() <= 1e-6 {
                    Ok(Money::new(whole as i64, currency))
                } else {
                    Err(MoneyError::TooPrecise(text))
                }
            }
            read => read,
        }
    }

    /// The amount of an `f64` rounded to the cent by the one rule, on its shortest decimal
    /// form (the digits a JSON writer wrote: `1.005` is 1.01). Refused: a non-finite amount,
    /// one no `i64` of cents holds.
    pub fn from_f64_rounded(amount: f64, currency: impl Into<String>) -> Result<Self, MoneyError> {
        if !amount.is_finite() {
            return Err(MoneyError::NotANumber(amount.to_string()));
        }
        // `Display` of an `f64` is its shortest round-trip decimal form, never in exponent
        // notation.
        Money::parse_rounded(&amount.to_string(), currency)
    }

    /// The amount as a decimal with exactly two decimals (`12.99`, `-0.05`, `59.00`), as a
    /// query parameter or a CSV field carries it.
    pub fn decimal(&self) -> String {
        let sign = if self.minor_units < 0 { "-" } else { "" };
        let abs = self.minor_units.unsigned_abs();
        let scale = SCALE.unsigned_abs();
        format!("{sign}{}.{:02}", abs / scale, abs % scale)
    }

    /// The amount as an `f64` in major units (`12.99`, the nearest `f64` to the decimal), as
    /// a JSON number carries it: exact to the cent below ten trillion.
    pub fn to_f64(&self) -> f64 {
        self.minor_units as f64 / SCALE as f64
    }
}

/// Zero euros: what a missing amount reads as where a provider's decoding is tolerant (the
/// euro is every provider's currency).
impl Default for Money {
    fn default() -> Self {
        Money::new(0, "EUR")
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.decimal(), self.currency)
    }
}

/// A decimal text read digit by digit: the sign, the whole minor units, and the digits past
/// the cents.
struct Decimal {
    negative: bool,
    minor: i64,
    rest: Vec<u8>,
}

impl Decimal {
    fn read(text: &str) -> Result<Self, MoneyError> {
        let trimmed = text.trim();
        let not_a_number = || MoneyError::NotANumber(trimmed.to_owned());
        let out_of_range = || MoneyError::OutOfRange(trimmed.to_owned());
        let (negative, unsigned) = match trimmed.as_bytes().first() {
            Some(b'-') => (true, &trimmed[1..]),
            Some(b'+') => (false, &trimmed[1..]),
            _ => (false, trimmed),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
            return Err(not_a_number());
        }
        // Signed as it is read, so that the most negative amount reads too.
        let mut minor: i64 = 0;
        let cents = fraction
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(MINOR_DIGITS as usize);
        for b in whole.bytes().chain(cents) {
            let digit = i64::from(b - b'0');
            minor = minor
                .checked_mul(10)
                .and_then(|m| {
                    if negative {
                        m.checked_sub(digit)
                    } else {
                        m.checked_add(digit)
                    }
                })
                .ok_or_else(out_of_range)?;
        }
        let rest = fraction
            .bytes()
            .skip(MINOR_DIGITS as usize)
            .map(|b| b - b'0')
            .collect();
        Ok(Decimal {
            negative,
            minor,
            rest,
        })
    }

    /// The whole minor units (truncated toward zero) and the digits past them.
    fn split(self) -> (i64, Vec<u8>) {
        (self.minor, self.rest)
    }
}

/// An amount in euros as a bare JSON number (bol's `12.99`), for `#[serde(with = ...)]`:
/// written as the `f64` of the amount; read tolerantly, as a provider's answer is: an amount
/// with more decimals than cents (bol documents two, and a computed commission could have
/// more) is rounded to the cent by the one rule ([`Money::from_f64_rounded`]; a numeric
/// string by [`Money::parse_rounded`]) rather than failing the whole answer.
pub mod eur_number {
    use crate::money::*;

    /// Writes `money` as a JSON number in euros (`12.99`, `59.0`).
    pub fn serialize<S: Serializer>(money: &Money, s: S) -> Result<S::Ok, S::Error> {
        if money.minor_units.unsigned_abs() >= F64_LIMIT.unsigned_abs() {
            return Err(serde::ser::Error::custom(MoneyError::OutOfRange(money.decimal())));
        }
        s.serialize_f64(money.to_f64())
    }

    /// Reads a JSON number (or a numeric string) in euros, rounded to the cent by the one
    /// rule.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        d.deserialize_any(Visitor)
    }

    pub(super) struct Visitor;

    impl serde::de::Visitor<'_> for Visitor {
        type Value = Money;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an amount in euros")
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Money, E> {
            v.checked_mul(SCALE)
                .map(|minor| Money::new(minor, "EUR"))
                .ok_or_else(|| E::custom(MoneyError::OutOfRange(v.to_string())))
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Money, E> {
            let v = i64::try_from(v).map_err(|_| E::custom(MoneyError::OutOfRange(v.to_string())))?;
            self.visit_i64(v)
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Money, E> {
            Money::from_f64_rounded(v, "EUR").map_err(E::custom)
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Money, E> {
            Money::parse_rounded(v, "EUR").map_err(E::custom)
        }
    }
}

/// [`eur_number`] for an optional amount: `None` is written as `null` (skip it with
/// `skip_serializing_if`) and read from `null` or a missing field (with `default`).
pub mod eur_number_option {
    use crate::money::*;

    /// Writes `money` as a JSON number in euros, or `null`.
    pub fn serialize<S: Serializer>(money: &Option<Money>, s: S) -> Result<S::Ok, S::Error> {
        match money {
            Some(m) => crate::money::eur_number::serialize(m, s),
            None => s.serialize_none(),
        }
    }

    /// Reads a JSON number (or a numeric string) in euros exactly, or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Money>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "crate::money::eur_number")] Money);
        Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(m)| m))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, "EUR")
    }

    #[test]
    fn exact_texts_read_and_others_are_refused() {
        assert_eq!(Money::parse("12.99", "EUR"), Ok(eur(1299)));
        assert_eq!(Money::parse(" -0.5 ", "EUR"), Ok(eur(-50)));
        assert_eq!(Money::parse("+3", "EUR"), Ok(eur(300)));
        assert_eq!(Money::parse("12.990", "EUR"), Ok(eur(1299)));
        assert_eq!(Money::parse(".5", "EUR"), Ok(eur(50)));
        assert_eq!(Money::parse("7.", "EUR"), Ok(eur(700)));
        assert_eq!(
            Money::parse("12.995", "EUR"),
            Err(MoneyError::TooPrecise("12.995".into()))
        );
        for bad in ["", "-", ".", "1,50", "1.2.3", "12 EUR", "1e2", "--1", "0x10"] {
            assert!(
                matches!(Money::parse(bad, "EUR"), Err(MoneyError::NotANumber(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Money::parse("92233720368547758.08", "EUR"),
            Err(MoneyError::OutOfRange(_))
        ));
        assert_eq!(Money::parse("92233720368547758.07", "EUR"), Ok(eur(i64::MAX)));
        assert_eq!(Money::parse("-92233720368547758.08", "EUR"), Ok(eur(i64::MIN)));
    }

    #[test]
    fn rounding_is_half_away_from_zero_on_the_decimal_digits() {
        let rounded = |t: &str| Money::parse_rounded(t, "EUR").unwrap().minor_units;
        assert_eq!(rounded("12.345"), 1235);
        assert_eq!(rounded("-12.345"), -1235);
        assert_eq!(rounded("12.3449"), 1234);
        assert_eq!(rounded("12.335"), 1234);
        assert_eq!(rounded("0.005"), 1);
        assert_eq!(rounded("-0.004"), 0);
        assert_eq!(rounded("12.995"), 1300);
        // On the digits as written, not on the binary approximation (1.00499...).
        assert_eq!(Money::from_f64_rounded(1.005, "EUR"), Ok(eur(101)));
        assert_eq!(Money::eur(1.005), eur(101));
        assert_eq!(Money::eur(612.4 / 1.21).minor_units, 50612);
        assert!(matches!(
            Money::from_f64_rounded(f64::NAN, "EUR"),
            Err(MoneyError::NotANumber(_))
        ));
        assert_eq!(Money::eur(f64::INFINITY).minor_units, i64::MAX);
    }

    #[test]
    fn a_double_reads_as_whole_cents_or_is_refused() {
        assert_eq!(Money::from_f64(12.99, "EUR"), Ok(eur(1299)));
        assert_eq!(Money::from_f64(-0.05, "EUR"), Ok(eur(-5)));
        assert_eq!(Money::from_f64(59.0, "EUR"), Ok(eur(5900)));
        // Binary noise of a computed sum is not a third decimal.
        assert_eq!(Money::from_f64(12.99 * 3.0, "EUR"), Ok(eur(3897)));
        assert_eq!(Money::from_f64(0.1 + 0.2, "EUR"), Ok(eur(30)));
        assert_eq!(
            Money::from_f64(12.995, "EUR"),
            Err(MoneyError::TooPrecise("12.995".into()))
        );
        assert!(matches!(
            Money::from_f64(0.001, "EUR"),
            Err(MoneyError::TooPrecise(_))
        ));
        assert!(matches!(
            Money::from_f64(f64::NAN, "EUR"),
            Err(MoneyError::NotANumber(_))
        ));
        assert!(matches!(
            Money::from_f64(1e17, "EUR"),
            Err(MoneyError::OutOfRange(_))
        ));
    }

    #[test]
    fn texts_for_people_and_for_the_wire() {
        assert_eq!(Money::eur(12.99).to_string(), "12.99 EUR");
        assert_eq!(eur(-5).to_string(), "-0.05 EUR");
        assert_eq!(eur(5900).decimal(), "59.00");
        assert_eq!(eur(i64::MIN).decimal(), "-92233720368547758.08");
        // The journal's form is unchanged.
        assert_eq!(
            serde_json::to_string(&eur(1299)).unwrap(),
            r#"{"minor_units":1299,"currency":"EUR"}"#
        );
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Line {
        #[serde(with = "eur_number")]
        price: Money,
        #[serde(default, with = "eur_number_option", skip_serializing_if = "Option::is_none")]
        discount: Option<Money>,
    }

    #[test]
    fn bare_json_numbers_in_euros_read_and_write_as_before() {
        let line: Line = serde_json::from_str(r#"{"price": 12.99, "discount": 1}"#).unwrap();
        assert_eq!(line.price, eur(1299));
        assert_eq!(line.discount, Some(eur(100)));
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"price":12.99,"discount":1.0}"#
        );
        let line: Line = serde_json::from_str(r#"{"price": "0.50", "discount": null}"#).unwrap();
        assert_eq!((line.price, line.discount), (eur(50), None));
        let missing: Line = serde_json::from_str(r#"{"price": 59}"#).unwrap();
        assert_eq!(serde_json::to_string(&missing).unwrap(), r#"{"price":59.0}"#);
        // More digits than cents, read as a provider's answer: rounded by the one rule.
        let rounded: Line = serde_json::from_str(r#"{"price": 12.995, "discount": "-0.125"}"#).unwrap();
        assert_eq!((rounded.price, rounded.discount), (eur(1300), Some(eur(-13))));
        assert!(serde_json::from_str::<Line>(r#"{"price": true}"#).is_err());
        let huge = Line {
            price: eur(i64::MAX),
            discount: None,
        };
        assert!(serde_json::to_string(&huge).is_err());
    }

    proptest! {
        /// Every amount is written and read back as itself: as a decimal text, and as a JSON
        /// number below ten trillion.
        #[test]
        fn decimal_texts_and_json_numbers_round_trip(minor in any::<i64>()) {
            let money = eur(minor);
            prop_assert_eq!(Money::parse(&money.decimal(), "EUR"), Ok(money.clone()));
            prop_assert_eq!(Money::parse_rounded(&money.decimal(), "EUR"), Ok(money.clone()));
            if minor.unsigned_abs() < F64_LIMIT.unsigned_abs() {
                prop_assert_eq!(Money::from_f64(money.to_f64(), "EUR"), Ok(money.clone()));
                prop_assert_eq!(Money::from_f64_rounded(money.to_f64(), "EUR"), Ok(money.clone()));
                let line = Line { price: money, discount: None };
                let text = serde_json::to_string(&line).unwrap();
                prop_assert_eq!(serde_json::from_str::<Line>(&text).unwrap(), line);
            }
        }

        /// A third decimal is refused exactly, and rounded half away from zero: the result
        /// is within half a cent, and a tie goes away from zero.
        #[test]
        fn more_digits_are_refused_or_rounded_by_the_one_rule(minor in -1_000_000_000_i64..1_000_000_000, extra in 1_u8..10) {
            let sign = if minor < 0 { "-" } else { "" };
            let text = format!("{sign}{}{extra}", eur(minor.abs()).decimal());
            prop_assert!(matches!(Money::parse(&text, "EUR"), Err(MoneyError::TooPrecise(_))));
            let rounded = Money::parse_rounded(&text, "EUR").unwrap().minor_units;
            let away = if extra >= 5 { minor.abs() + 1 } else { minor.abs() };
            prop_assert_eq!(rounded, if minor < 0 { -away } else { away });
        }
    }
}
