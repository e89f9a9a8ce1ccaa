//! The streaming parser: quick-xml events → [`Chunk`]s. One element at a time is in memory
//! (at most 16 MiB), plus one open sleep session per source and the interned sources and
//! resolved types, so memory stays flat whatever the file size.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use quick_xml::XmlVersion;
use quick_xml::escape::EscapeError;
use quick_xml::events::{BytesStart, Event};

use super::counting::Counting;
use super::open::Stop;
use super::record::{Instant, parse_date, parse_number, source_key};
use super::sleep::Sessions;
use super::workout::WorkoutBuilder;
use super::{Chunk, ExportError, Progress};
use crate::domain::health::SourceKey;
use crate::domain::health::catalog::{Aggregation, SeriesType, series_type};
use crate::domain::health::events::{EventBody, NewEvent, WorkoutDetails};
use crate::domain::health::healthkit;
use crate::domain::health::intake::RawBatch;
use crate::domain::health::units::{ToCanonical, to_canonical};

/// Most bytes one element (with its children) may take.
const MAX_ELEMENT_BYTES: u64 = 16 << 20;
/// Most distinct skip reasons kept; later ones count as `other`.
const MAX_REASONS: usize = 1000;
/// Most distinct (type, unit) pairs and sources remembered.
const MAX_CACHED: usize = 10_000;
/// Type names in reasons are cut to this many bytes.
const MAX_NAME_IN_REASON: usize = 100;
const DAY_MS: i64 = 86_400_000;
/// A workout lasts at most this long (the event validation's limit).
const MAX_WORKOUT_MS: i64 = 7 * DAY_MS;

/// What a record's (type, unit) resolves to.
#[derive(Clone)]
enum Resolved {
    Sample {
        kind: &'static SeriesType,
        conversion: ToCanonical,
        /// A category record measured by its length (minutes), not by its value.
        from_length: bool,
    },
    Sleep,
    Skip(Box<str>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the root element.
    Prolog,
    /// Inside the root element.
    Body,
    /// After the root element closed.
    Ended,
    /// The end of input was reached or an error returned.
    Done,
}

/// A chunk being filled.
#[derive(Default)]
struct Building {
    chunk: Chunk,
    batches: HashMap<(u32, i32), usize>,
}

/// Streams an export.xml into [`Chunk`]s. Blocking: run it on a blocking thread.
pub struct Parser<R: BufRead> {
    reader: quick_xml::Reader<Counting<R>>,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    key: Vec<u8>,
    progress: Progress,
    state: State,
    sources: HashMap<Vec<u8>, u32>,
    source_keys: Vec<SourceKey>,
    resolved: HashMap<Vec<u8>, Resolved>,
    sleep: Sessions,
    now_ms: i64,
}

fn clip(name: &str) -> &str {
    let mut end = name.len().min(MAX_NAME_IN_REASON);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("?")
}

/// A plausible range for one sample in a canonical unit; values outside are absurd.
fn plausible(unit: &str) -> Option<(f64, f64)> {
    Some(match unit {
        "bpm" => (1.0, 350.0),
        "breaths/min" => (1.0, 150.0),
        "%" => (0.0, 100.0),
        "kg" => (0.2, 700.0),
        "cm" => (0.0, 500.0),
        "m" => (0.0, 1.0e6),
        "degC" => (-90.0, 100.0),
        "mg/dL" => (1.0, 3000.0),
        "mmHg" => (1.0, 400.0),
        "ms" => (0.0, 600_000.0),
        "count" => (0.0, 1.0e7),
        "kcal" => (0.0, 50_000.0),
        "min" => (0.0, 1440.0 * 7.0),
        "m/s" => (0.0, 150.0),
        "W" => (0.0, 5000.0),
        "L" => (0.0, 20.0),
        "L/min" => (0.0, 1500.0),
        "mL" => (0.0, 50_000.0),
        "dBASPL" => (0.0, 200.0),
        "mL/(kg*min)" => (1.0, 120.0),
        "rpm" => (0.0, 400.0),
        "kg/m2" => (1.0, 200.0),
        _ => return None,
    })
}

impl<R: BufRead> Parser<R> {
    /// A parser over export.xml's bytes (from [`super::open`] or any `BufRead`). Samples more
    /// than a day after the system clock's now are skipped; see [`Parser::with_now`].
    pub fn new(reader: R) -> Self {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let mut reader = quick_xml::Reader::from_reader(Counting::new(reader, MAX_ELEMENT_BYTES));
        reader.config_mut().check_end_names = true;
        Parser {
            reader,
            buf: Vec::with_capacity(4096),
            scratch: Vec::with_capacity(4096),
            key: Vec::with_capacity(128),
            progress: Progress::default(),
            state: State::Prolog,
            sources: HashMap::new(),
            source_keys: Vec::new(),
            resolved: HashMap::new(),
            sleep: Sessions::default(),
            now_ms,
        }
    }

    /// Judges "more than a day in the future" against `now_ms` (UNIX ms; the importer's
    /// clock) instead of the system clock.
    pub fn with_now(mut self, now_ms: i64) -> Self {
        self.now_ms = now_ms;
        self
    }

    /// Joins sleep segments of a source at most `gap_ms` apart into one session
    /// (SLEEP_END_GAP_MINUTES; `sleep::DEFAULT_SESSION_GAP_MS` otherwise).
    pub fn with_sleep_gap(mut self, gap_ms: i64) -> Self {
        self.sleep = Sessions::new(gap_ms);
        self
    }

    /// Totals so far (`bytes` is the XML consumed).
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// The next chunk: elements are read until `max_records` (at least 1) top-level data
    /// elements have been consumed, so a chunk holds at most `max_records` samples (keep it
    /// ≤ `intake::MAX_SAMPLES_PER_MESSAGE`). `Ok(None)` once the document has ended and
    /// everything was returned. Sleep sessions are returned when the next segment of their
    /// source is more than the session gap away, or at the end. After an error every later
    /// call returns `Ok(None)`.
    pub fn next_chunk(&mut self, max_records: usize) -> Result<Option<Chunk>, ExportError> {
        if self.state == State::Done {
            return Ok(None);
        }
        let max_records = max_records.max(1) as u64;
        let mut b = Building::default();
        let result = self.fill(&mut b, max_records);
        self.progress.bytes = self.reader.get_ref().bytes;
        if let Err(error) = result {
            self.state = State::Done;
            return Err(error);
        }
        self.progress.records += b.chunk.records;
        self.progress.samples += b
            .chunk
            .batches
            .iter()
            .map(|b| b.times.len() as u64)
            .sum::<u64>();
        self.progress.events += b.chunk.events.len() as u64;
        let empty = b.chunk.records == 0 && b.chunk.events.is_empty() && b.chunk.batches.is_empty();
        if empty && self.state == State::Done {
            return Ok(None);
        }
        Ok(Some(b.chunk))
    }

    fn fill(&mut self, b: &mut Building, max_records: u64) -> Result<(), ExportError> {
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.fill_with(b, max_records, &mut buf);
        self.buf = buf;
        result
    }

    fn fill_with(
        &mut self,
        b: &mut Building,
        max_records: u64,
        buf: &mut Vec<u8>,
    ) -> Result<(), ExportError> {
        while b.chunk.records < max_records {
            buf.clear();
            self.reader.get_mut().mark();
            let at = self.reader.buffer_position();
            let event = match self.reader.read_event_into(buf) {
                Ok(event) => event,
                Err(error) => return Err(self.xml_error(error)),
            };
            match event {
                Event::DocType(doctype)
                    if memchr::memmem::find(doctype.as_bytes(), b"<!ENTITY").is_some() =>
                {
                    return Err(ExportError::Entities);
                }
                Event::GeneralRef(reference) if !known_reference(&reference) => {
                    return Err(ExportError::Entities);
                }
                Event::Start(_) if self.state == State::Prolog => self.state = State::Body,
                Event::Empty(_) if self.state == State::Prolog => self.state = State::Ended,
                Event::Start(e) => self.element(b, &e, false, at)?,
                Event::Empty(e) => self.element(b, &e, true, at)?,
                Event::End(_) if self.state == State::Body => self.state = State::Ended,
                Event::Eof => {
                    if self.state != State::Ended {
                        return Err(ExportError::Truncated(format!(
                            "export.xml ends at byte {} before the root element closes",
                            self.reader.buffer_position()
                        )));
                    }
                    for (source, event) in self.sleep.finish_all() {
                        b.chunk
                            .events
                            .push((self.source_keys[source as usize].clone(), event));
                    }
                    self.state = State::Done;
                    return Ok(());
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A top-level data element (a child of the root).
    fn element(
        &mut self,
        b: &mut Building,
        e: &BytesStart<'_>,
        empty: bool,
        at: u64,
    ) -> Result<(), ExportError> {
        if self.state != State::Body {
            return Err(self.malformed(at, "content after the root element".into()));
        }
        let name = e.name();
        match name.as_ref().as_bytes() {
            b"Record" => {
                b.chunk.records += 1;
                let manual = !empty && self.record_children()?;
                self.record(b, e, manual, at)?;
            }
            b"Workout" => {
                b.chunk.records += 1;
                self.workout(b, e, empty, at)?;
            }
            b"ExportDate" | b"Me" => {
                if !empty {
                    self.skip_children(e)?;
                }
            }
            other => {
                b.chunk.records += 1;
                let reason = match other {
                    b"ActivitySummary" => "activity_summary".to_string(),
                    b"Correlation" => {
                        let kind = self.attribute(e, b"type", at)?.unwrap_or_default();
                        format!("correlation:{}", clip(&kind))
                    }
                    _ => format!("unsupported_element:{}", clip(text(other))),
                };
                self.skip(b, &reason);
                if !empty {
                    self.skip_children(e)?;
                }
            }
        }
        Ok(())
    }

    /// `manual`: the record's metadata says the user typed it in (`HKWasUserEntered`).
    fn record(
        &mut self,
        b: &mut Building,
        e: &BytesStart<'_>,
        manual: bool,
        at: u64,
    ) -> Result<(), ExportError> {
        // type, unit, value, startDate, endDate, sourceName, device (raw, escaped).
        let mut raw: [&[u8]; 7] = [b""; 7];
        // The first five unescaped, when they held an escape (`mmol&lt;180.1…&gt;/L`).
        let mut unescaped: [Option<String>; 5] = Default::default();
        let mut attributes = e.attributes();
        attributes.with_checks(false);
        for a in attributes {
            let a = a.map_err(|error| self.malformed(at, error.to_string()))?;
            // Raw attribute values borrow the element's bytes.
            let Cow::Borrowed(v) = a.value else {
                continue;
            };
            let slot = match a.key.as_ref().as_bytes() {
                b"type" => 0,
                b"unit" => 1,
                b"value" => 2,
                b"startDate" => 3,
                b"endDate" => 4,
                b"sourceName" => 5,
                b"device" => 6,
                _ => continue,
            };
            raw[slot] = v.as_bytes();
            // Names are unescaped (and so checked) when a source is first seen; the rest here,
            // so an unknown entity fails.
            if slot < 5 && v.contains('&') {
                let value = a
                    .normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|error| self.value_error(at, error))?;
                unescaped[slot] = Some(value.into_owned());
            }
        }
        let field = |i: usize| unescaped[i].as_deref().map_or(raw[i], str::as_bytes);
        let (kind, unit, value, start, end) = (field(0), field(1), field(2), field(3), field(4));
        let (source_name, device) = (raw[5], raw[6]);
        if kind.is_empty() {
            self.skip(b, "missing_attribute:Record");
            return Ok(());
        }
        let resolved = self.resolve(kind, unit);
        if let Resolved::Skip(reason) = &resolved {
            self.skip(b, reason);
            return Ok(());
        }
        let name = text(kind);
        let Some(begin) = parse_date(start) else {
            self.skip(b, &format!("invalid_date:{}", clip(name)));
            return Ok(());
        };
        match resolved {
            Resolved::Skip(_) => {}
            Resolved::Sample {
                kind: series,
                conversion,
                from_length,
            } => {
                if begin.ms < 0 || begin.ms > self.now_ms + DAY_MS {
                    self.skip(b, &format!("date_out_of_range:{}", clip(name)));
                    return Ok(());
                }
                // HealthKit samples are intervals: a step count from startDate to endDate;
                // instantaneous measures have endDate = startDate (or none).
                let duration = match parse_date(end) {
                    None => 0,
                    Some(finish) => finish.ms - begin.ms,
                };
                if !(0..=DAY_MS).contains(&duration) || (from_length && duration == 0) {
                    self.skip(b, &format!("invalid_interval:{}", clip(name)));
                    return Ok(());
                }
                let raw_value = if from_length {
                    Some(duration as f64 / 60_000.0)
                } else {
                    parse_number(value)
                };
                let Some(raw_value) = raw_value else {
                    self.skip(b, &format!("invalid_value:{}", clip(name)));
                    return Ok(());
                };
                let converted = conversion.apply(raw_value);
                let negative_sum = series.aggregation == Aggregation::Sum && converted < 0.0;
                let outside = plausible(series.unit)
                    .is_some_and(|(low, high)| converted < low || converted > high);
                if !converted.is_finite() || negative_sum || outside {
                    self.skip(b, &format!("absurd_value:{}", clip(name)));
                    return Ok(());
                }
                let Some(source) = self.source(source_name, device, manual, e, at)? else {
                    self.skip(b, "too_many_sources");
                    return Ok(());
                };
                let index = *b.batches.entry((source, series.id)).or_insert_with(|| {
                    b.chunk.batches.push(RawBatch {
                        source: self.source_keys[source as usize].clone(),
                        series_type: series.code.to_string(),
                        unit: series.unit.to_string(),
                        ..RawBatch::default()
                    });
                    b.chunk.batches.len() - 1
                });
                let batch = &mut b.chunk.batches[index];
                batch.times.push(begin.ms);
                batch.values.push(converted);
                batch.zone_offsets.push(begin.offset);
                batch.durations.push(duration);
            }
            Resolved::Sleep => {
                let Some(finish) = parse_date(end) else {
                    self.skip(b, &format!("invalid_date:{}", clip(name)));
                    return Ok(());
                };
                if finish.ms <= begin.ms || finish.ms - begin.ms > DAY_MS {
                    self.skip(b, &format!("invalid_interval:{}", clip(name)));
                    return Ok(());
                }
                if begin.ms < 0 || finish.ms > self.now_ms + DAY_MS {
                    self.skip(b, &format!("date_out_of_range:{}", clip(name)));
                    return Ok(());
                }
                let Some(stage) = healthkit::sleep_stage(text(value)) else {
                    self.skip(b, &format!("unknown_sleep_value:{}", clip(text(value))));
                    return Ok(());
                };
                let Some(source) = self.source(source_name, device, manual, e, at)? else {
                    self.skip(b, "too_many_sources");
                    return Ok(());
                };
                self.sleep.push(
                    source,
                    stage,
                    (begin.ms, begin.offset),
                    (finish.ms, finish.offset),
                );
            }
        }
        Ok(())
    }

    fn workout(
        &mut self,
        b: &mut Building,
        e: &BytesStart<'_>,
        empty: bool,
        at: u64,
    ) -> Result<(), ExportError> {
        let mut builder = WorkoutBuilder::default();
        let mut source_name = String::new();
        let mut device = String::new();
        let mut start = None;
        let mut end = None;
        for a in e.attributes().with_checks(false) {
            let a = a.map_err(|error| self.malformed(at, error.to_string()))?;
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|error| self.value_error(at, error))?;
            match a.key.as_ref().as_bytes() {
                b"sourceName" => source_name = value.into_owned(),
                b"device" => device = value.into_owned(),
                b"startDate" => start = parse_date(value.as_bytes()),
                b"endDate" => end = parse_date(value.as_bytes()),
                key => builder.attribute(key, &value),
            }
        }
        let manual = !empty && self.workout_children(&mut builder)?;
        let (Some(begin), Some(finish)) = (start, end) else {
            self.skip(b, "invalid_date:Workout");
            return Ok(());
        };
        if finish.ms <= begin.ms || finish.ms - begin.ms > MAX_WORKOUT_MS {
            self.skip(b, "invalid_interval:Workout");
            return Ok(());
        }
        if begin.ms < 0 || finish.ms > self.now_ms + DAY_MS {
            self.skip(b, "date_out_of_range:Workout");
            return Ok(());
        }
        let (activity, details) = builder.finish(begin.ms, finish.ms);
        let workout_type = healthkit::workout_type(&activity).unwrap_or("other");
        let device = (!device.is_empty()).then_some(device.as_str());
        let Some(source) = self.source_str(&source_name, device, manual) else {
            self.skip(b, "too_many_sources");
            return Ok(());
        };
        let event = workout_event(begin, finish, workout_type, details);
        b.chunk
            .events
            .push((self.source_keys[source as usize].clone(), event));
        Ok(())
    }

    /// Reads a workout's children up to its end tag; whether its metadata says the user typed
    /// it in.
    fn workout_children(&mut self, builder: &mut WorkoutBuilder) -> Result<bool, ExportError> {
        let mut manual = false;
        let mut depth = 0usize;
        loop {
            self.scratch.clear();
            let at = self.reader.buffer_position();
            let mut scratch = std::mem::take(&mut self.scratch);
            let event = self.reader.read_event_into(&mut scratch);
            let result = match event {
                Err(error) => Err(self.xml_error(error)),
                // Only the workout's direct children describe it: a `WorkoutActivity`
                // (HKWorkoutActivity, iOS 16) repeats the statistics of its span inside it.
                Ok(Event::Start(e)) => {
                    depth += 1;
                    if depth == 1 {
                        self.workout_child(builder, &e, at)
                            .map(|typed| manual |= typed)
                    } else {
                        Ok(())
                    }
                }
                Ok(Event::Empty(e)) if depth == 0 => self
                    .workout_child(builder, &e, at)
                    .map(|typed| manual |= typed),
                Ok(Event::End(_)) if depth == 0 => {
                    self.scratch = scratch;
                    return Ok(manual);
                }
                Ok(Event::End(_)) => {
                    depth -= 1;
                    Ok(())
                }
                Ok(Event::GeneralRef(r)) if !known_reference(&r) => Err(ExportError::Entities),
                Ok(Event::Eof) => Err(ExportError::Truncated(
                    "export.xml ends inside a Workout".into(),
                )),
                Ok(_) => Ok(()),
            };
            self.scratch = scratch;
            result?;
        }
    }

    /// One child of a workout; whether it is the metadata of a workout the user typed in.
    fn workout_child(
        &self,
        builder: &mut WorkoutBuilder,
        e: &BytesStart<'_>,
        at: u64,
    ) -> Result<bool, ExportError> {
        let name = e.name();
        let wanted: &[&[u8]] = match name.as_ref().as_bytes() {
            b"WorkoutStatistics" => &[b"type", b"unit", b"sum", b"average", b"maximum"],
            b"WorkoutEvent" => &[b"type", b"date", b"duration", b"durationUnit"],
            b"MetadataEntry" => &[b"key", b"value"],
            _ => return Ok(false),
        };
        let mut values: [Option<String>; 5] = Default::default();
        for a in e.attributes().with_checks(false) {
            let a = a.map_err(|error| self.malformed(at, error.to_string()))?;
            if let Some(i) = wanted.iter().position(|w| *w == a.key.as_ref().as_bytes()) {
                let v = a
                    .normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|error| self.value_error(at, error))?;
                values[i] = Some(v.into_owned());
            }
        }
        // The attributes in the order of `wanted`.
        let [first, second, third, fourth, fifth] = values;
        let number = |v: Option<String>| v.and_then(|v| parse_number(v.as_bytes()));
        match name.as_ref().as_bytes() {
            b"WorkoutStatistics" => builder.statistics(
                first.as_deref().unwrap_or(""),
                second.as_deref().unwrap_or(""),
                number(third),
                number(fourth),
                number(fifth),
            ),
            b"WorkoutEvent" => builder.event(
                first.as_deref().unwrap_or(""),
                second.and_then(|d| parse_date(d.as_bytes())).map(|d| d.ms),
                number(third),
                fourth.as_deref().unwrap_or(""),
            ),
            _ => {
                let (key, value) = (
                    first.as_deref().unwrap_or(""),
                    second.as_deref().unwrap_or(""),
                );
                if user_entered(key.as_bytes(), value.as_bytes()) {
                    return Ok(true);
                }
                builder.metadata(key, value)
            }
        }
        Ok(false)
    }

    /// Reads a record's children up to its end tag (the raw bytes of MetadataEntry attributes
    /// only, nothing allocated); whether one says the user typed the record in.
    fn record_children(&mut self) -> Result<bool, ExportError> {
        let mut depth = 0usize;
        let mut manual = false;
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = loop {
            scratch.clear();
            let at = self.reader.buffer_position();
            let child = match self.reader.read_event_into(&mut scratch) {
                Err(error) => break Err(self.xml_error(error)),
                Ok(Event::Start(e)) => {
                    depth += 1;
                    e
                }
                Ok(Event::Empty(e)) => e,
                Ok(Event::End(_)) if depth == 0 => break Ok(manual),
                Ok(Event::End(_)) => {
                    depth -= 1;
                    continue;
                }
                Ok(Event::Eof) => {
                    break Err(ExportError::Truncated(
                        "export.xml ends inside a Record".into(),
                    ));
                }
                Ok(_) => continue,
            };
            if manual || child.name().as_ref().as_bytes() != b"MetadataEntry" {
                continue;
            }
            match entry_user_entered(&child) {
                Ok(typed) => manual = typed,
                Err(error) => break Err(self.malformed(at, error.to_string())),
            }
        };
        self.scratch = scratch;
        result
    }

    /// One attribute of `e`, unescaped.
    fn attribute(
        &self,
        e: &BytesStart<'_>,
        key: &[u8],
        at: u64,
    ) -> Result<Option<String>, ExportError> {
        for a in e.attributes().with_checks(false) {
            let a = a.map_err(|error| self.malformed(at, error.to_string()))?;
            if a.key.as_ref().as_bytes() == key {
                let v = a
                    .normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|error| self.value_error(at, error))?;
                return Ok(Some(v.into_owned()));
            }
        }
        Ok(None)
    }

    fn skip_children(&mut self, e: &BytesStart<'_>) -> Result<(), ExportError> {
        self.scratch.clear();
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = self.reader.read_to_end_into(e.name(), &mut scratch);
        self.scratch = scratch;
        result.map(|_| ()).map_err(|error| self.xml_error(error))
    }

    /// What `kind` in `unit` becomes, remembered per pair.
    fn resolve(&mut self, kind: &[u8], unit: &[u8]) -> Resolved {
        self.key.clear();
        self.key.extend_from_slice(kind);
        self.key.push(0);
        self.key.extend_from_slice(unit);
        if let Some(found) = self.resolved.get(&self.key) {
            return found.clone();
        }
        let resolved = resolve_uncached(text(kind), text(unit));
        if self.resolved.len() < MAX_CACHED {
            self.resolved.insert(self.key.clone(), resolved.clone());
        }
        resolved
    }

    /// The interned source of a record (raw, escaped attribute values).
    fn source(
        &mut self,
        source_name: &[u8],
        device: &[u8],
        manual: bool,
        e: &BytesStart<'_>,
        at: u64,
    ) -> Result<Option<u32>, ExportError> {
        self.key.clear();
        self.key.push(u8::from(manual));
        self.key.extend_from_slice(source_name);
        self.key.push(0);
        self.key.extend_from_slice(device);
        if let Some(&id) = self.sources.get(&self.key) {
            return Ok(Some(id));
        }
        let raw_key = self.key.clone();
        let name = self.attribute(e, b"sourceName", at)?.unwrap_or_default();
        let device = self.attribute(e, b"device", at)?;
        let Some(id) = self.source_str(&name, device.as_deref(), manual) else {
            return Ok(None);
        };
        if self.sources.len() < MAX_CACHED {
            self.sources.insert(raw_key, id);
        }
        Ok(Some(id))
    }

    /// Interns a source by its unescaped names; `None` past the limit.
    fn source_str(&mut self, name: &str, device: Option<&str>, manual: bool) -> Option<u32> {
        let key = source_key(name, device, manual);
        if let Some(i) = self.source_keys.iter().position(|k| *k == key) {
            return Some(i as u32);
        }
        if self.source_keys.len() >= MAX_CACHED {
            return None;
        }
        self.source_keys.push(key);
        Some((self.source_keys.len() - 1) as u32)
    }

    fn skip(&mut self, b: &mut Building, reason: &str) {
        let reason = if self.progress.skipped.contains_key(reason)
            || self.progress.skipped.len() < MAX_REASONS
        {
            reason
        } else {
            "other"
        };
        count(&mut self.progress.skipped, reason);
        count(&mut b.chunk.skipped, reason);
    }

    fn malformed(&self, byte: u64, message: String) -> ExportError {
        let (line, column) = self.reader.get_ref().line_column(byte);
        ExportError::Malformed {
            line,
            column,
            byte,
            message,
        }
    }

    /// An attribute value that does not unescape.
    fn value_error(&self, at: u64, error: quick_xml::Error) -> ExportError {
        match error {
            quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(..)) => ExportError::Entities,
            error => self.malformed(at, error.to_string()),
        }
    }

    fn xml_error(&mut self, error: quick_xml::Error) -> ExportError {
        use quick_xml::Error as X;
        match &error {
            X::Io(io) => {
                if let Some(stop) = Stop::from_io(io) {
                    return stop;
                }
                if io.kind() == std::io::ErrorKind::InvalidData {
                    return self.malformed(self.reader.buffer_position(), io.to_string());
                }
                ExportError::Io(std::io::Error::new(io.kind(), io.to_string()))
            }
            X::Escape(EscapeError::UnrecognizedEntity(..)) => ExportError::Entities,
            X::Syntax(_) | X::IllFormed(_) if self.at_end() => ExportError::Truncated(format!(
                "export.xml ends at byte {} inside an element ({error})",
                self.reader.buffer_position()
            )),
            _ => self.malformed(self.reader.error_position(), error.to_string()),
        }
    }

    /// Whether the input is exhausted.
    fn at_end(&mut self) -> bool {
        self.reader
            .get_mut()
            .fill_buf()
            .map(|rest| rest.is_empty())
            .unwrap_or(false)
    }
}

/// Whether a metadata entry says its record was typed in by the user (HealthKit's
/// `HKMetadataKeyWasUserEntered`, exported as `HKWasUserEntered` with `1`).
fn user_entered(key: &[u8], value: &[u8]) -> bool {
    key == b"HKWasUserEntered" && value == b"1"
}

/// Whether a MetadataEntry element is [`user_entered`], from its raw attribute values.
fn entry_user_entered(
    e: &BytesStart<'_>,
) -> Result<bool, quick_xml::events::attributes::AttrError> {
    let (mut key, mut value): (&[u8], &[u8]) = (b"", b"");
    for a in e.attributes().with_checks(false) {
        let a = a?;
        let Cow::Borrowed(v) = a.value else {
            continue;
        };
        match a.key.as_ref().as_bytes() {
            b"key" => key = v.as_bytes(),
            b"value" => value = v.as_bytes(),
            _ => {}
        }
    }
    Ok(user_entered(key, value))
}

/// A character reference or one of XML's five predefined entities.
fn known_reference(reference: &quick_xml::events::BytesRef<'_>) -> bool {
    reference.is_char_ref()
        || matches!(
            reference.as_bytes(),
            b"lt" | b"gt" | b"amp" | b"apos" | b"quot"
        )
}

fn count(map: &mut BTreeMap<String, u64>, reason: &str) {
    match map.get_mut(reason) {
        Some(n) => *n += 1,
        None => {
            map.insert(reason.to_string(), 1);
        }
    }
}

fn resolve_uncached(kind: &str, unit: &str) -> Resolved {
    if kind == healthkit::SLEEP_ANALYSIS {
        return Resolved::Sleep;
    }
    if let Some(kind) = healthkit::category_minutes(kind).and_then(series_type) {
        let conversion = to_canonical("min", kind.unit);
        if let Some(conversion) = conversion {
            return Resolved::Sample {
                kind,
                conversion,
                from_length: true,
            };
        }
    }
    let Some(quantity) = healthkit::quantity(kind) else {
        return Resolved::Skip(format!("unknown_type:{}", clip(kind)).into());
    };
    let conversion = series_type(quantity.series_type).and_then(|series| {
        let owl = quantity.owl_unit(unit)?;
        Some((series, to_canonical(owl, series.unit)?))
    });
    match conversion {
        Some((kind, conversion)) => Resolved::Sample {
            kind,
            conversion,
            from_length: false,
        },
        None => Resolved::Skip(format!("unknown_unit:{}:{}", clip(kind), clip(unit)).into()),
    }
}

fn workout_event(
    begin: Instant,
    finish: Instant,
    workout_type: &str,
    details: WorkoutDetails,
) -> NewEvent {
    NewEvent {
        start: begin.ms,
        end: finish.ms,
        zone_offset: begin.offset,
        body: EventBody::Workout {
            workout_type: workout_type.to_string(),
            details,
        },
    }
}
