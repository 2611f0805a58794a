//! Response times: first-response and resolution times (median, p90) per channel and per
//! week, volume per channel, busiest hours, and the response-time target — for the report
//! view, `sportello-cli stats` and CSV export.
//!
//! A conversation counts in the period its customer first wrote in. Its first response is
//! our first normal reply after that (automatic replies and internal notes are not answers);
//! its resolution time runs from the same first message to when it was closed.

use std::collections::BTreeMap;

use rusqlite::params;
use serde::Serialize;
use ts_rs::TS;

use super::Store;
use crate::model::ChannelKind;
use crate::{Result, now_ms};

/// Median and 90th percentile of a set of durations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Durations {
    pub count: u32,
    /// The middle value (the mean of the two middle ones for an even count).
    #[ts(type = "number | null")]
    pub median_ms: Option<i64>,
    /// Nearest-rank 90th percentile.
    #[ts(type = "number | null")]
    pub p90_ms: Option<i64>,
}

impl Durations {
    pub fn of(mut values: Vec<i64>) -> Self {
        values.sort_unstable();
        let n = values.len();
        if n == 0 {
            return Durations::default();
        }
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2
        };
        let rank = (n * 9).div_ceil(10).max(1);
        Durations {
            count: n as u32,
            median_ms: Some(median),
            p90_ms: Some(values[rank - 1]),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Figures {
    /// Conversations begun by the customer in the period.
    pub conversations: u32,
    /// Messages the customers sent in the period.
    pub inbound_messages: u32,
    pub first_response: Durations,
    pub resolution: Durations,
    /// Conversations of the period still without a reply.
    pub unanswered: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ChannelFigures {
    pub channel: ChannelKind,
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct WeekFigures {
    /// ISO week in the shop's time zone, "2025-W10".
    pub week: String,
    /// Monday 00:00 of that week (ms).
    #[ts(type = "number")]
    pub starts_at: i64,
    pub figures: Figures,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct HourCount {
    /// 0-23, in the shop's time zone.
    pub hour: u8,
    pub messages: u32,
}

/// Customers' messages on one weekday, hour by hour: a row of the busiest-times heat map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct WeekdayHours {
    /// 1 = Monday ... 7 = Sunday, in the shop's time zone.
    pub weekday: u8,
    /// 24 entries, hour 0 first.
    pub hours: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct CareReport {
    #[ts(type = "number")]
    pub from: i64,
    #[ts(type = "number")]
    pub to: i64,
    pub sla_minutes: u32,
    /// First responses within the target.
    pub within_sla: u32,
    /// First responses later than the target.
    pub over_sla: u32,
    /// Open conversations waiting for us now, and those waiting longer than the target.
    pub waiting_now: u32,
    pub overdue_now: u32,
    pub total: Figures,
    pub channels: Vec<ChannelFigures>,
    pub weeks: Vec<WeekFigures>,
    /// Customers' messages per hour of the day (24 entries).
    pub busiest_hours: Vec<HourCount>,
    /// The same messages by weekday and hour (7 rows, Monday first).
    pub busiest_times: Vec<WeekdayHours>,
}

#[derive(Default)]
struct Acc {
    conversations: u32,
    inbound: u32,
    first: Vec<i64>,
    resolution: Vec<i64>,
    unanswered: u32,
}

impl Acc {
    fn figures(self) -> Figures {
        Figures {
            conversations: self.conversations,
            inbound_messages: self.inbound,
            first_response: Durations::of(self.first),
            resolution: Durations::of(self.resolution),
            unanswered: self.unanswered,
        }
    }
}

impl Store {
    /// The report for conversations begun in `[from, to)` (ms).
    pub fn care_report(&self, from: i64, to: i64) -> Result<CareReport> {
        let settings = self.care_settings()?;
        let tz = settings.time_zone();
        let sla = settings.sla_ms();
        let conn = self.reader();
        let mut total = Acc::default();
        let mut channels: BTreeMap<&'static str, (ChannelKind, Acc)> = BTreeMap::new();
        let mut weeks: BTreeMap<(i16, i8), (i64, Acc)> = BTreeMap::new();
        let (mut within, mut over) = (0u32, 0u32);
        let week_of = |t: i64| -> ((i16, i8), i64) {
            let z = jiff::Timestamp::from_millisecond(t)
                .unwrap_or_default()
                .to_zoned(tz.clone());
            let iso = z.date().iso_week_date();
            let monday = iso.first_of_week().map(|d| d.date()).unwrap_or(z.date());
            let start = monday
                .to_zoned(tz.clone())
                .map(|m| m.timestamp().as_millisecond())
                .unwrap_or(t);
            ((iso.year(), iso.week()), start)
        };
        {
            let mut stmt = conn.prepare_cached(
                "WITH firsts AS (
                    SELECT m.conversation_id AS id, MIN(m.sent_at) AS first_in
                    FROM messages m
                    WHERE m.direction = 'inbound' AND m.kind = 'normal'
                    GROUP BY m.conversation_id
                 )
                 SELECT a.kind, f.first_in, c.closed_at,
                        (SELECT MIN(o.sent_at) FROM messages o
                         WHERE o.conversation_id = f.id AND o.direction = 'outbound'
                           AND o.kind = 'normal' AND o.sent_at >= f.first_in)
                 FROM firsts f
                 JOIN conversations c ON c.id = f.id
                 JOIN accounts a ON a.id = c.account_id
                 WHERE f.first_in >= ?1 AND f.first_in < ?2",
            )?;
            let rows = stmt.query_map(params![from, to], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })?;
            for row in rows {
                let (kind, first_in, closed_at, replied_at) = row?;
                let channel = ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email);
                let (week, start) = week_of(first_in);
                let each = |acc: &mut Acc| {
                    acc.conversations += 1;
                    match replied_at {
                        Some(r) => acc.first.push(r - first_in),
                        None => acc.unanswered += 1,
                    }
                    if let Some(c) = closed_at.filter(|&c| c >= first_in) {
                        acc.resolution.push(c - first_in);
                    }
                };
                each(&mut total);
                each(
                    &mut channels
                        .entry(channel.as_str())
                        .or_insert((channel, Acc::default()))
                        .1,
                );
                each(&mut weeks.entry(week).or_insert((start, Acc::default())).1);
                match replied_at {
                    Some(r) if r - first_in <= sla => within += 1,
                    Some(_) => over += 1,
                    None => {}
                }
            }
        }
        let mut hours = [0u32; 24];
        let mut week_hours = [[0u32; 24]; 7];
        {
            let mut stmt = conn.prepare_cached(
                "SELECT a.kind, m.sent_at FROM messages m JOIN accounts a ON a.id = m.account_id
                 WHERE m.direction = 'inbound' AND m.kind = 'normal'
                   AND m.sent_at >= ?1 AND m.sent_at < ?2",
            )?;
            let rows = stmt.query_map(params![from, to], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (kind, at) = row?;
                let channel = ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email);
                total.inbound += 1;
                channels
                    .entry(channel.as_str())
                    .or_insert((channel, Acc::default()))
                    .1
                    .inbound += 1;
                let (week, start) = week_of(at);
                weeks
                    .entry(week)
                    .or_insert((start, Acc::default()))
                    .1
                    .inbound += 1;
                let local = jiff::Timestamp::from_millisecond(at)
                    .unwrap_or_default()
                    .to_zoned(tz.clone());
                let hour = local.hour() as usize;
                hours[hour] += 1;
                week_hours[local.weekday().to_monday_zero_offset() as usize][hour] += 1;
            }
        }
        let (waiting_now, overdue_now): (u32, u32) = conn.query_row(
            "SELECT COALESCE(SUM(waiting_since IS NOT NULL), 0),
                    COALESCE(SUM(waiting_since < ?1), 0)
             FROM conversations WHERE status = 'open'",
            [now_ms() - sla],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(CareReport {
            from,
            to,
            sla_minutes: settings.sla_minutes,
            within_sla: within,
            over_sla: over,
            waiting_now,
            overdue_now,
            total: total.figures(),
            channels: channels
                .into_values()
                .map(|(channel, acc)| ChannelFigures {
                    channel,
                    figures: acc.figures(),
                })
                .collect(),
            weeks: weeks
                .into_iter()
                .map(|((y, w), (starts_at, acc))| WeekFigures {
                    week: format!("{y}-W{w:02}"),
                    starts_at,
                    figures: acc.figures(),
                })
                .collect(),
            busiest_hours: hours
                .iter()
                .enumerate()
                .map(|(h, &n)| HourCount {
                    hour: h as u8,
                    messages: n,
                })
                .collect(),
            busiest_times: week_hours
                .iter()
                .enumerate()
                .map(|(d, row)| WeekdayHours {
                    weekday: d as u8 + 1,
                    hours: row.to_vec(),
                })
                .collect(),
        })
    }
}

/// The report as CSV (one table; `section` says what a row is): totals, channels, weeks,
/// hours and the busy weekday-hours (`weekday_hour`, key `1-09` = Monday 09:00, only those with
/// messages). Times are in minutes with one decimal.
pub fn report_csv(report: &CareReport) -> String {
    fn minutes(v: Option<i64>) -> String {
        v.map(|ms| format!("{:.1}", ms as f64 / 60_000.0))
            .unwrap_or_default()
    }
    fn row(out: &mut String, section: &str, key: &str, f: &Figures) {
        out.push_str(&format!(
            "{section},{key},{},{},{},{},{},{},{},{},{}\n",
            f.conversations,
            f.inbound_messages,
            f.first_response.count,
            minutes(f.first_response.median_ms),
            minutes(f.first_response.p90_ms),
            f.resolution.count,
            minutes(f.resolution.median_ms),
            minutes(f.resolution.p90_ms),
            f.unanswered
        ));
    }
    let mut out = String::from(
        "section,key,conversations,inbound_messages,responses,first_response_median_min,\
         first_response_p90_min,resolved,resolution_median_min,resolution_p90_min,unanswered\n",
    );
    row(&mut out, "total", "all", &report.total);
    for c in &report.channels {
        row(&mut out, "channel", c.channel.as_str(), &c.figures);
    }
    for w in &report.weeks {
        row(&mut out, "week", &w.week, &w.figures);
    }
    for h in &report.busiest_hours {
        out.push_str(&format!("hour,{:02},,{},,,,,,,\n", h.hour, h.messages));
    }
    for day in &report.busiest_times {
        for (hour, &n) in day.hours.iter().enumerate().filter(|(_, n)| **n > 0) {
            out.push_str(&format!(
                "weekday_hour,{}-{hour:02},,{n},,,,,,,\n",
                day.weekday
            ));
        }
    }
    out
}

/// Writes the report as CSV to `path` (a `.csv` extension is added when missing) and returns
/// the path written.
pub fn write_report_csv(report: &CareReport, path: &std::path::Path) -> Result<String> {
    if path.as_os_str().is_empty() {
        return Err(crate::Error::invalid("choose where to save the report"));
    }
    let path = if path.extension().is_none() {
        path.with_extension("csv")
    } else {
        path.to_path_buf()
    };
    std::fs::write(&path, report_csv(report))?;
    Ok(path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90() {
        assert_eq!(Durations::of(vec![]).median_ms, None);
        let d = Durations::of(vec![5, 1, 3]);
        assert_eq!((d.count, d.median_ms, d.p90_ms), (3, Some(3), Some(5)));
        let d = Durations::of((1..=10).collect());
        assert_eq!((d.median_ms, d.p90_ms), (Some(5), Some(9)));
        let d = Durations::of(vec![10, 20]);
        assert_eq!((d.median_ms, d.p90_ms), (Some(15), Some(20)));
    }

    #[test]
    fn csv_file_is_written_with_its_extension() {
        let dir = tempfile::tempdir().unwrap();
        let report = CareReport {
            from: 0,
            to: 1,
            sla_minutes: 60,
            within_sla: 0,
            over_sla: 0,
            waiting_now: 0,
            overdue_now: 0,
            total: Figures::default(),
            channels: Vec::new(),
            weeks: Vec::new(),
            busiest_hours: Vec::new(),
            busiest_times: Vec::new(),
        };
        let written = write_report_csv(&report, &dir.path().join("tempi")).unwrap();
        assert!(written.ends_with("tempi.csv"), "{written}");
        let text = std::fs::read_to_string(&written).unwrap();
        assert!(text.starts_with("section,key,"));
        assert!(text.contains("\ntotal,all,0,0,0,,,0,,,0\n"), "{text}");
        let err = write_report_csv(&report, std::path::Path::new("")).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidInput);
    }
}
