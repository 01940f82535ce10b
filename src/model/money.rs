//! Exact money amounts: parsed from the text the marketer wrote, never through a float.
//!
//! `79.5` in USD is 7950 minor units; `10.001` in USD is an error because the dollar has two
//! decimal places. Amounts are kept as integer minor units so templates, JSON-LD and checkout
//! links all see the same digits.

use std::fmt;
use std::str::FromStr;

use iso_currency::Currency as IsoCurrency;
use rust_decimal::Decimal;

/// An ISO 4217 currency that has a defined number of decimal places (minor units).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Currency(IsoCurrency);

/// Why a currency code was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CurrencyError {
    #[error("`{0}` is not an ISO 4217 currency code")]
    Unknown(String),
    #[error("`{0}` is not a currency that prices can be given in")]
    NoMinorUnits(String),
}

impl Currency {
    /// Parses an upper-case ISO 4217 code such as `USD`.
    pub(crate) fn parse(code: &str) -> Result<Self, CurrencyError> {
        let iso = IsoCurrency::from_str(code).map_err(|_| CurrencyError::Unknown(code.to_owned()))?;
        // Funds and metals (XAU, XDR…) have no minor units: nobody sells a drop in them.
        if iso.exponent().is_none() || iso.is_fund() || iso.is_special() {
            return Err(CurrencyError::NoMinorUnits(code.to_owned()));
        }
        Ok(Currency(iso))
    }

    /// The three-letter code, e.g. `USD`.
    pub(crate) fn code(self) -> &'static str {
        self.0.code()
    }

    /// Number of decimal places of the currency (2 for USD, 0 for JPY, 3 for BHD).
    pub(crate) fn minor_units(self) -> u32 {
        u32::from(self.0.exponent().unwrap_or(0))
    }

    /// The symbol shown before an amount. Symbols that several currencies share (`$`, `¥`,
    /// `kr`) are only used for the currency most readers associate with them; every other
    /// currency is written with its code, so `CAD 12.00` is never mistaken for US dollars.
    fn prefix(self) -> String {
        match self.code() {
            "USD" => "$".to_owned(),
            "EUR" => "€".to_owned(),
            "GBP" => "£".to_owned(),
            "JPY" => "¥".to_owned(),
            "INR" => "₹".to_owned(),
            "KRW" => "₩".to_owned(),
            code => format!("{code}\u{a0}"),
        }
    }
}

/// A price in a currency, as an exact number of minor units (cents, pence, yen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Money {
    minor: i64,
    currency: Currency,
}

/// Why a price was rejected. Messages name the value and what the currency allows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MoneyError {
    #[error("`{0}` is not a number")]
    NotANumber(String),
    #[error("`{0}` is negative")]
    Negative(String),
    #[error("`{text}` has {decimals} decimal places, but {currency} allows {allowed}")]
    TooManyDecimals { text: String, decimals: u32, allowed: u32, currency: &'static str },
    #[error("`{0}` is too large")]
    TooLarge(String),
}

/// Largest accepted amount in major units: far above any real drop price, far below overflow.
const MAX_MAJOR_UNITS: i64 = 1_000_000_000;

impl Money {
    /// Parses the amount exactly as written. Accepts plain decimals (`79`, `79.5`, `79.50`);
    /// rejects exponents, hex, negative amounts, and more decimals than the currency has:
    /// `79.5` in USD is 7950 cents, shown `$79.50`; `10.001` is an error.
    pub(crate) fn parse(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let trimmed = text.trim();
        let looks_decimal = !trimmed.is_empty()
            && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+')
            && trimmed.chars().any(|c| c.is_ascii_digit());
        if !looks_decimal {
            return Err(MoneyError::NotANumber(text.to_owned()));
        }
        let value = Decimal::from_str_exact(trimmed).map_err(|_| MoneyError::NotANumber(text.to_owned()))?;
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative(text.to_owned()));
        }
        // Trailing zeros are exact (`10.100` is `10.10`); only significant digits beyond the
        // currency's minor units are lost precision.
        let normalized = value.normalize();
        let allowed = currency.minor_units();
        if normalized.scale() > allowed {
            return Err(MoneyError::TooManyDecimals {
                text: text.to_owned(),
                decimals: normalized.scale(),
                allowed,
                currency: currency.code(),
            });
        }
        if normalized.trunc() > Decimal::from(MAX_MAJOR_UNITS) {
            return Err(MoneyError::TooLarge(text.to_owned()));
        }
        let mut minor = normalized;
        minor.rescale(allowed);
        let minor = i64::try_from(minor.mantissa()).map_err(|_| MoneyError::TooLarge(text.to_owned()))?;
        Ok(Money { minor: minor.abs(), currency })
    }

    /// The amount in minor units (7950 for $79.50).
    pub(crate) fn minor_units(self) -> i64 {
        self.minor
    }

    /// The currency of the amount.
    pub(crate) fn currency(self) -> Currency {
        self.currency
    }

    /// The amount as a plain decimal with exactly the currency's decimals: `79.50`, `12000`.
    /// This is the form schema.org `price` and machine consumers want.
    pub(crate) fn amount(self) -> String {
        Decimal::new(self.minor, self.currency.minor_units()).to_string()
    }

    /// The amount for people: symbol or code, thousands grouped, e.g. `$1,299.00`.
    pub(crate) fn display(self) -> String {
        let amount = self.amount();
        let (whole, fraction) = match amount.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (amount.as_str(), None),
        };
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        match fraction {
            Some(fraction) => format!("{}{grouped}.{fraction}", self.currency.prefix()),
            None => format!("{}{grouped}", self.currency.prefix()),
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_as_written() {
        let usd = Currency::parse("USD").unwrap();
        let price = Money::parse("79.5", usd).unwrap();
        assert_eq!(
            (price.minor_units(), price.amount(), price.display()),
            (7950, "79.50".to_owned(), "$79.50".to_owned())
        );
        assert!(Money::parse("10.001", usd).is_err());
    }

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    #[test]
    fn parses_amounts_exactly_as_written() {
        assert_eq!(Money::parse("79.5", usd()).unwrap().minor_units(), 7950);
        assert_eq!(Money::parse("79.50", usd()).unwrap().amount(), "79.50");
        assert_eq!(Money::parse("0.1", usd()).unwrap().minor_units(), 10);
        assert_eq!(Money::parse("179", usd()).unwrap().amount(), "179.00");
        assert_eq!(Money::parse("10.100", usd()).unwrap().minor_units(), 1010);
    }

    #[test]
    fn rejects_more_decimals_than_the_currency_has() {
        let err = Money::parse("10.001", usd()).unwrap_err();
        assert_eq!(err.to_string(), "`10.001` has 3 decimal places, but USD allows 2");
        let jpy = Currency::parse("JPY").unwrap();
        assert!(matches!(Money::parse("100.5", jpy), Err(MoneyError::TooManyDecimals { .. })));
        assert_eq!(Money::parse("12000", jpy).unwrap().display(), "¥12,000");
        let bhd = Currency::parse("BHD").unwrap();
        assert_eq!(Money::parse("1.234", bhd).unwrap().amount(), "1.234");
    }

    #[test]
    fn rejects_what_is_not_a_plain_decimal() {
        for text in ["", "abc", "1e3", "0x10", "1,50", "$5", ".", "1.2.3", "NaN", "inf"] {
            assert!(matches!(Money::parse(text, usd()), Err(MoneyError::NotANumber(_))), "{text}");
        }
        assert!(matches!(Money::parse("-5", usd()), Err(MoneyError::Negative(_))));
        assert!(matches!(Money::parse("99999999999", usd()), Err(MoneyError::TooLarge(_))));
    }

    #[test]
    fn displays_with_symbol_and_grouping() {
        assert_eq!(Money::parse("1299", usd()).unwrap().display(), "$1,299.00");
        assert_eq!(Money::parse("45", Currency::parse("EUR").unwrap()).unwrap().display(), "€45.00");
        assert_eq!(
            Money::parse("12.5", Currency::parse("CAD").unwrap()).unwrap().display(),
            "CAD\u{a0}12.50"
        );
        assert_eq!(Money::parse("0", usd()).unwrap().display(), "$0.00");
        assert_eq!(Money::parse("100", usd()).unwrap().display(), "$100.00");
        assert_eq!(Money::parse("1000000", usd()).unwrap().display(), "$1,000,000.00");
    }

    #[test]
    fn rejects_unknown_and_non_monetary_currencies() {
        assert!(matches!(Currency::parse("XYZ"), Err(CurrencyError::Unknown(_))));
        assert!(matches!(Currency::parse("usd"), Err(CurrencyError::Unknown(_))));
        assert!(matches!(Currency::parse("XAU"), Err(CurrencyError::NoMinorUnits(_))));
    }
}
