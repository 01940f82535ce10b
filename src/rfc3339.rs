//! RFC 3339, the one form times take in dropgen's input and output: drop schedules,
//! `--now`, the manifest and its changes, the pages and the mock inventory.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `2026-11-20T15:00:00Z`, or with the offset the time carries (`…T16:00:00+01:00`). Empty
/// for a year RFC 3339 cannot write (before 0000 or after 9999).
pub(crate) fn format(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap_or_default()
}

/// Why a text is not an RFC 3339 time.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ParseError {
    #[error("the date and the time are separated by `T`")]
    Separator,
    #[error(transparent)]
    Format(#[from] time::error::Parse),
}

/// A time with its offset, as [`format()`] writes it.
pub(crate) fn parse(text: &str) -> Result<OffsetDateTime, ParseError> {
    // The `time` crate takes any character between the date and the time (`2026-11-20x15:00Z`);
    // RFC 3339, and the JSON Schema editors check against, take `T` (or `t`).
    if text.as_bytes().get(10).is_some_and(|separator| !matches!(separator, b'T' | b't')) {
        return Err(ParseError::Separator);
    }
    Ok(OffsetDateTime::parse(text, &Rfc3339)?)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn keeps_the_offset_and_reads_back_what_it_writes() {
        let time = datetime!(2027-02-05 10:00 +01:00);
        assert_eq!(format(time), "2027-02-05T10:00:00+01:00");
        assert_eq!(parse(&format(time)).unwrap(), time);
        assert_eq!(format(datetime!(2026-11-20 15:00 UTC)), "2026-11-20T15:00:00Z");
        assert!(parse("2026-11-20T15:00:00").is_err(), "a time without an offset");
        assert!(parse("2026-11-20t15:00:00z").is_ok());
        for separator in [" ", ".", "x"] {
            assert!(
                parse(&format!("2026-11-20{separator}15:00:00Z")).is_err(),
                "`{separator}` between date and time"
            );
        }
    }
}
