//! Dates written the way people write them (`12/10/2026 5pm`), read back so that an error can
//! show the same moment in the one form dropgen takes, in the drop's own offset.

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

use crate::rfc3339;

/// `text` as RFC 3339 in `offset`, for each way it can be read: one reading when the day and
/// month cannot be swapped (`25/12/2026`, `2026/12/25`), two when they can (`12/10/2026`, read
/// month first, then day first). Empty when `text` is not a date in a form we recognise.
pub(crate) fn readings(text: &str, offset: UtcOffset) -> Vec<String> {
    let text = text.trim();
    let (date, time) = match text.split_once(|c: char| c.is_whitespace() || c == 'T' || c == ',') {
        Some((date, time)) => (date, Some(time.trim())),
        None => (text, None),
    };
    let Some(time) = time.map_or(Some(Time::MIDNIGHT), clock) else { return Vec::new() };
    let parts: Vec<&str> = date.split(['/', '.', '-']).collect();
    let [a, b, c] = parts[..] else { return Vec::new() };
    let numbers = (a.parse::<u16>(), b.parse::<u8>(), c.parse::<u16>());
    let (Ok(a), Ok(b), Ok(c)) = numbers else { return Vec::new() };
    let candidates: Vec<(i32, u8, u8)> = if a > 999 {
        // Year first: year/month/day is the only order in use.
        vec![(i32::from(a), b, u8::try_from(c).unwrap_or(0))]
    } else if c > 999 {
        let first = u8::try_from(a).unwrap_or(0);
        // Month first (as in the US), then day first (most of the world).
        vec![(i32::from(c), first, b), (i32::from(c), b, first)]
    } else {
        return Vec::new();
    };
    let mut readings: Vec<String> = candidates
        .into_iter()
        .filter_map(|(year, month, day)| {
            Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
        })
        .map(|date| rfc3339::format(PrimitiveDateTime::new(date, time).assume_offset(offset)))
        .filter(|reading| !reading.is_empty())
        .collect();
    readings.dedup();
    readings
}

/// `5pm`, `5 pm`, `5:30pm`, `17:00`, `17:00:30`.
fn clock(text: &str) -> Option<Time> {
    let lower = text.to_ascii_lowercase().replace(' ', "");
    let (digits, meridiem) = if let Some(rest) = lower.strip_suffix("am") {
        (rest, Some(false))
    } else if let Some(rest) = lower.strip_suffix("pm") {
        (rest, Some(true))
    } else {
        (lower.as_str(), None)
    };
    let mut fields = digits.split(':').map(str::parse::<u8>);
    let hour = fields.next()?.ok()?;
    let minute = fields.next().transpose().ok()?.unwrap_or(0);
    let second = fields.next().transpose().ok()?.unwrap_or(0);
    if fields.next().is_some() {
        return None;
    }
    let hour = match meridiem {
        Some(_) if !(1..=12).contains(&hour) => return None,
        Some(false) => hour % 12,
        Some(true) => hour % 12 + 12,
        None => hour,
    };
    Time::from_hms(hour, minute, second).ok()
}

#[cfg(test)]
mod tests {
    use time::macros::offset;

    use super::*;

    #[test]
    fn reads_the_forms_people_write() {
        let est = offset!(-05:00);
        assert_eq!(
            readings("12/10/2026 5pm", est),
            ["2026-12-10T17:00:00-05:00", "2026-10-12T17:00:00-05:00"]
        );
        assert_eq!(readings("25/12/2026 17:30", est), ["2026-12-25T17:30:00-05:00"]);
        assert_eq!(readings("2026/12/25 9:15 am", offset!(UTC)), ["2026-12-25T09:15:00Z"]);
        assert_eq!(
            readings("10.12.2026", offset!(+01:00)),
            ["2026-10-12T00:00:00+01:00", "2026-12-10T00:00:00+01:00"]
        );
        assert_eq!(readings("5/5/2026 12am", offset!(UTC)), ["2026-05-05T00:00:00Z"]);
    }

    #[test]
    fn leaves_what_is_not_a_date_alone() {
        let utc = offset!(UTC);
        for text in ["tomorrow", "12/10", "12/10/2026 25pm", "31/31/2026", "1/2/3"] {
            assert!(readings(text, utc).is_empty(), "{text}");
        }
    }
}
