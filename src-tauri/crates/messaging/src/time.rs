//! The few date formats the providers use, without a calendar crate: Unix seconds (WhatsApp,
//! Telegram), RFC 2822 (Twilio's `date_sent`), ISO 8601 with a `+0000` offset (Graph's
//! `created_time`), and the `YYYY-MM-DD` day Twilio filters on.

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD` (UTC) of a time in milliseconds.
pub fn day_of(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

fn month(name: &str) -> Option<i64> {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_ascii_lowercase();
    NAMES
        .iter()
        .position(|n| lower.starts_with(n))
        .map(|i| i as i64 + 1)
}

fn hms(s: &str) -> Option<i64> {
    let mut parts = s.split(':').map(|p| p.parse::<i64>().ok());
    let h = parts.next()??;
    let m = parts.next()??;
    let sec = parts.next().flatten().unwrap_or(0);
    Some(h * 3600 + m * 60 + sec)
}

/// `+0000`, `+01:00`, `Z`, `GMT` → seconds east of UTC.
fn offset(s: &str) -> Option<i64> {
    match s {
        "Z" | "GMT" | "UTC" | "UT" | "" => return Some(0),
        _ => {}
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = s[1..].chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 4 {
        return None;
    }
    let h: i64 = digits[..2].parse().ok()?;
    let m: i64 = digits[2..].parse().ok()?;
    Some(sign * (h * 3600 + m * 60))
}

/// RFC 2822: `Thu, 30 Jul 2015 20:12:33 +0000` → milliseconds.
pub fn parse_rfc2822(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s.split_once(',').map(|(_, rest)| rest).unwrap_or(s);
    let mut it = s.split_whitespace();
    let d: i64 = it.next()?.parse().ok()?;
    let m = month(it.next()?)?;
    let y: i64 = it.next()?.parse().ok()?;
    let t = hms(it.next()?)?;
    let off = offset(it.next().unwrap_or("+0000"))?;
    Some((days_from_civil(y, m, d) * 86_400 + t - off) * 1000)
}

/// ISO 8601: `2024-01-15T10:20:30+0000`, `2024-01-15T10:20:30.123Z` → milliseconds.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = s.split_once('T')?;
    let mut dp = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (dp.next()??, dp.next()??, dp.next()??);
    let split = rest.find(['+', '-', 'Z']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(split);
    let (time, frac) = match time.split_once('.') {
        Some((t, f)) => (t, f),
        None => (time, ""),
    };
    let millis: i64 = format!("{:0<3}", &frac[..frac.len().min(3)])
        .parse()
        .unwrap_or(0);
    let t = hms(time)?;
    let off = offset(zone)?;
    Some((days_from_civil(y, m, d) * 86_400 + t - off) * 1000 + millis)
}

/// Unix seconds as a string or a number → milliseconds.
pub fn from_unix(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
        serde_json::Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .map(|s| s * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2822_as_twilio_writes_it() {
        // 2015-07-30T20:12:33Z
        assert_eq!(
            parse_rfc2822("Thu, 30 Jul 2015 20:12:33 +0000"),
            Some(1_438_287_153_000)
        );
        assert_eq!(
            parse_rfc2822("Thu, 30 Jul 2015 22:12:33 +0200"),
            Some(1_438_287_153_000)
        );
    }

    #[test]
    fn iso8601_as_graph_writes_it() {
        assert_eq!(
            parse_iso8601("2015-07-30T20:12:33+0000"),
            Some(1_438_287_153_000)
        );
        assert_eq!(
            parse_iso8601("2015-07-30T20:12:33.250Z"),
            Some(1_438_287_153_250)
        );
    }

    #[test]
    fn days() {
        assert_eq!(day_of(1_438_287_153_000), "2015-07-30");
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(951_782_400_000), "2000-02-29");
    }
}
