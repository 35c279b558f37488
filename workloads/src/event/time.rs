//! The envelope's `time` as RFC 3339 text, both ways.
//!
//! Read as the check that names `/time` reads it (chrono's own `Deserialize` is more lenient),
//! so a typed decode accepts exactly the times that check does. Written as chrono writes it
//! (`Z`, and 0, 3, 6 or 9 fraction digits, whichever is exact) but straight into a buffer:
//! chrono's `Serialize` goes through `fmt` a character at a time, a noticeable part of the CPU of
//! every batched request.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `time` as RFC 3339, the same text chrono's `Serialize` writes.
pub(super) fn serialize<S: Serializer>(
    time: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut buffer = [0_u8; MAX_LEN];
    match format(time, &mut buffer) {
        Some(text) => serializer.serialize_str(text),
        None => time.serialize(serializer),
    }
}

/// An optional RFC 3339 time, parsed as `DateTime::parse_from_rfc3339` parses it.
pub(super) fn deserialize_optional<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let Some(text) = Option::<std::borrow::Cow<'de, str>>::deserialize(deserializer)? else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(&text)
        .map(|time| Some(time.with_timezone(&Utc)))
        .map_err(|e| serde::de::Error::custom(format!("not an RFC 3339 time: {e}")))
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
const MAX_LEN: usize = 30;

/// The text of a time in the years 0 to 9999 (chrono signs and widens the others: left to it).
fn format<'a>(time: &DateTime<Utc>, buffer: &'a mut [u8; MAX_LEN]) -> Option<&'a str> {
    let year = u32::try_from(time.year())
        .ok()
        .filter(|year| *year <= 9999)?;
    let (mut second, mut nanos) = (time.second(), time.nanosecond());
    if nanos >= 1_000_000_000 {
        // A leap second is written as second 60.
        second += 1;
        nanos -= 1_000_000_000;
    }
    let mut text = Text { buffer, len: 0 };
    text.digits(year, 4)
        .byte(b'-')
        .digits(time.month(), 2)
        .byte(b'-');
    text.digits(time.day(), 2)
        .byte(b'T')
        .digits(time.hour(), 2)
        .byte(b':');
    text.digits(time.minute(), 2).byte(b':').digits(second, 2);
    let fraction = match nanos {
        0 => None,
        n if n % 1_000_000 == 0 => Some((n / 1_000_000, 3)),
        n if n % 1_000 == 0 => Some((n / 1_000, 6)),
        n => Some((n, 9)),
    };
    if let Some((value, places)) = fraction {
        text.byte(b'.').digits(value, places);
    }
    text.byte(b'Z');
    let Text { buffer, len } = text;
    std::str::from_utf8(&buffer[..len]).ok()
}

/// ASCII written into a buffer long enough for any time [`format`] writes.
struct Text<'a> {
    buffer: &'a mut [u8; MAX_LEN],
    len: usize,
}

impl Text<'_> {
    fn byte(&mut self, byte: u8) -> &mut Self {
        self.buffer[self.len] = byte;
        self.len += 1;
        self
    }

    /// `value`'s last `places` decimal digits, zero-padded.
    fn digits(&mut self, value: u32, places: u32) -> &mut Self {
        for place in (0..places).rev() {
            self.byte(b'0' + (value / 10_u32.pow(place) % 10) as u8);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use rand::Rng;

    use super::*;

    fn ours(time: &DateTime<Utc>) -> String {
        serialize(time, serde_json::value::Serializer)
            .expect("serialised")
            .as_str()
            .expect("a string")
            .to_owned()
    }

    fn chronos(time: &DateTime<Utc>) -> String {
        serde_json::to_value(time)
            .expect("serialised")
            .as_str()
            .expect("a string")
            .to_owned()
    }

    #[test]
    fn every_time_is_written_as_chrono_writes_it() {
        let mut rng = rand::rng();
        let mut times = vec![
            Utc.timestamp_opt(0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            NaiveDate::from_ymd_opt(2016, 12, 31)
                .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
                .unwrap()
                .and_utc(),
        ];
        for _ in 0..20_000 {
            let seconds = rng.random_range(-62_000_000_000_i64..260_000_000_000);
            let nanos = match rng.random_range(0..4) {
                0 => 0,
                1 => rng.random_range(0..1000) * 1_000_000,
                2 => rng.random_range(0..1_000_000) * 1_000,
                _ => rng.random_range(0..1_000_000_000),
            };
            times.push(Utc.timestamp_opt(seconds, nanos).unwrap());
        }
        for time in &times {
            assert_eq!(ours(time), chronos(time), "{time:?}");
        }
    }
}
