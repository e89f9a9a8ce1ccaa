//! The Apple Health export parser on the committed fixture (written like a real export: DTD,
//! HKDevice strings, several offsets, metadata, sleep, workouts with statistics, unknown
//! types), a zip of it built here, and the bad inputs: truncated zip, zip without export.xml,
//! zip bomb, too large, malformed XML at a known byte, billion laughs, unknown entities,
//! truncated XML.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{Cursor, Seek, SeekFrom, Write};

use owl_server::apple_health::{Chunk, ExportError, Limits, Parser, open};
use owl_server::domain::health::events::{EventBody, NewEvent};
use owl_server::domain::health::intake::{OffsetRule, RawBatch, validate_batches};
use owl_server::domain::health::{RecordingMethod, SourceKey};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/apple_health/export.xml"
);
/// 2026-12-01, after every fixture date.
const NOW_MS: i64 = 1_796_083_200_000;
const MIN: i64 = 60_000;

fn fixture() -> Vec<u8> {
    std::fs::read(FIXTURE).unwrap()
}

/// Everything a parse produced.
#[derive(Default)]
struct All {
    batches: Vec<RawBatch>,
    events: Vec<(SourceKey, NewEvent)>,
    records: u64,
    chunks: usize,
    skipped: BTreeMap<String, u64>,
}

fn add(all: &mut All, chunk: Chunk) {
    all.chunks += 1;
    all.records += chunk.records;
    all.batches.extend(chunk.batches);
    all.events.extend(chunk.events);
    for (reason, n) in chunk.skipped {
        *all.skipped.entry(reason).or_default() += n;
    }
}

fn parse_all<R: std::io::BufRead>(reader: R, max: usize) -> (All, Result<(), ExportError>) {
    let mut parser = Parser::new(reader).with_now(NOW_MS);
    let mut all = All::default();
    loop {
        match parser.next_chunk(max) {
            Ok(Some(chunk)) => add(&mut all, chunk),
            Ok(None) => break,
            Err(error) => return (all, Err(error)),
        }
    }
    assert_eq!(parser.progress().records, all.records);
    assert_eq!(parser.progress().skipped, all.skipped);
    (all, Ok(()))
}

/// Samples of one series type: (app, device model, time, value, offset), in time order.
fn samples(all: &All, series: &str) -> Vec<(String, String, i64, f64, i32)> {
    let mut out: Vec<_> = all
        .batches
        .iter()
        .filter(|b| b.series_type == series)
        .flat_map(|b| {
            (0..b.times.len()).map(move |i| {
                (
                    b.source.app_name.clone(),
                    b.source.device_model.clone(),
                    b.times[i],
                    b.values[i],
                    b.zone_offsets[i],
                )
            })
        })
        .collect();
    out.sort_by_key(|s| (s.2, s.0.clone()));
    out
}

fn write_temp(bytes: &[u8]) -> std::fs::File {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    file
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn open_bytes(bytes: &[u8], limits: &Limits) -> Result<All, ExportError> {
    let reader = open(write_temp(bytes), limits)?;
    let (all, result) = parse_all(reader, 1000);
    result.map(|_| all)
}

fn check_fixture(all: &All) {
    assert_eq!(
        all.records, 35,
        "28 records, a correlation, 4 workouts, 2 summaries"
    );
    let skipped: Vec<(&str, u64)> = all.skipped.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        skipped,
        vec![
            ("absurd_value:HKQuantityTypeIdentifierHeartRate", 1),
            ("absurd_value:HKQuantityTypeIdentifierStepCount", 1),
            ("activity_summary", 2),
            ("correlation:HKCorrelationTypeIdentifierBloodPressure", 1),
            ("invalid_value:HKQuantityTypeIdentifierHeartRate", 1),
            ("unknown_sleep_value:HKCategoryValueSleepAnalysisDozing", 1),
            ("unknown_type:HKCategoryTypeIdentifierAppleStandHour", 1),
            ("unknown_type:HKQuantityTypeIdentifierDietaryCaffeine", 1),
            ("unknown_type:HKQuantityTypeIdentifierFooBarIndex", 1),
        ]
    );

    // Several offsets, each record keeping its own; units converted to canonical.
    let hr = samples(all, "heart_rate");
    assert_eq!(hr.len(), 3);
    assert_eq!(hr[0].1, "Watch6,2");
    assert_eq!(hr[0].0, "Jan\u{2019}s Apple\u{a0}Watch");
    assert_eq!((hr[0].2, hr[0].3, hr[0].4), (1_709_276_400_000, 62.0, 3600));
    assert_eq!((hr[1].3, hr[2].3, hr[2].4), (71.5, 58.0, -8 * 3600));
    assert_eq!(hr[2].2, 1_710_087_300_000, "2024-03-10 08:15:00 -0800");
    let weight = samples(all, "weight");
    assert_eq!(weight.len(), 2);
    assert_eq!(
        (weight[0].0.as_str(), weight[0].1.as_str()),
        ("Withings", "WBS04")
    );
    assert!((weight[1].3 - 80.059_053).abs() < 1e-5, "176.5 lb");
    assert_eq!((weight[1].0.as_str(), weight[1].1.as_str()), ("Health", ""));
    // HKWasUserEntered 1 makes a manual source; 0 says nothing.
    let weight_source = |app: &str| {
        all.batches
            .iter()
            .find(|b| b.series_type == "weight" && b.source.app_name == app)
            .map(|b| (b.source.manufacturer.clone(), b.source.recording_method))
            .unwrap()
    };
    assert_eq!(
        weight_source("Health"),
        (String::new(), RecordingMethod::Manual)
    );
    assert_eq!(
        weight_source("Withings"),
        ("Withings".to_owned(), RecordingMethod::Unspecified)
    );
    let spo2 = samples(all, "oxygen_saturation");
    assert!((spo2[0].3 - 97.0).abs() < 1e-9);
    assert_eq!(spo2[0].4, 9 * 3600);
    let glucose = samples(all, "blood_glucose");
    assert!((glucose[0].3 - 99.0858).abs() < 1e-3, "5.5 mmol/L");
    let steps = samples(all, "steps");
    assert_eq!(steps.len(), 2, "phone and watch, the negative one skipped");
    assert!((samples(all, "distance_walking_running")[0].3 - 600.88).abs() < 1e-6);
    assert_eq!(samples(all, "energy")[0].3, 1.25);
    assert_eq!(
        samples(all, "blood_pressure_systolic").len(),
        1,
        "not twice"
    );
    assert_eq!(samples(all, "heart_rate_variability_sdnn")[0].3, 48.5);
    // The mindful session 08:00-08:10 +01:00 is ten minutes of mindful time, not a workout.
    let mindful = samples(all, "mindful_time");
    assert_eq!(mindful.len(), 1);
    assert_eq!((mindful[0].2, mindful[0].3), (1_709_449_200_000, 10.0));
    let mindful_batch = all
        .batches
        .iter()
        .find(|b| b.series_type == "mindful_time")
        .unwrap();
    assert_eq!(mindful_batch.durations, [10 * MIN]);
    let phone = all
        .batches
        .iter()
        .find(|b| b.series_type == "steps" && b.source.device_type == "phone")
        .unwrap();
    assert_eq!(phone.source.provider, "apple_health");
    assert_eq!(phone.source.device_model, "iPhone14,2");
    assert_eq!(phone.source.manufacturer, "Apple Inc.");
    assert_eq!(phone.source.recording_method, RecordingMethod::Unspecified);

    // Sleep: per source, adjacent segments merged, a gap splits, in-bed alone stays in-bed.
    let sleeps: Vec<_> = all
        .events
        .iter()
        .filter_map(|(source, e)| match &e.body {
            EventBody::Sleep(d) => Some((source, e, d)),
            _ => None,
        })
        .collect();
    assert_eq!(sleeps.len(), 3);
    let night = sleeps
        .iter()
        .find(|(s, e, _)| s.device_type == "watch" && e.end - e.start > 60 * MIN)
        .unwrap();
    assert_eq!(night.1.start, 1_709_331_600_000, "2024-03-01 23:20 +0100");
    assert_eq!(night.1.end - night.1.start, 440 * MIN);
    assert_eq!(night.1.zone_offset, 3600);
    let stages: Vec<_> = night.2.stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(stages, ["light", "deep", "awake", "rem"]);
    assert!(!night.2.nap);
    let eff = night.2.efficiency_percent.unwrap();
    assert!((eff - 430.0 * 100.0 / 440.0).abs() < 1e-9, "{eff}");
    let nap = sleeps
        .iter()
        .find(|(s, e, _)| s.device_type == "watch" && e.end - e.start == 40 * MIN)
        .unwrap();
    assert!(nap.2.nap);
    let in_bed = sleeps
        .iter()
        .find(|(s, _, _)| s.device_type == "phone")
        .unwrap();
    assert_eq!(in_bed.2.stages.len(), 1);
    assert_eq!(in_bed.2.stages[0].stage, "in_bed");
    assert_eq!(in_bed.2.efficiency_percent, None);

    // Workouts with details, types mapped; the mindful session is not among them.
    let workouts: Vec<_> = all
        .events
        .iter()
        .filter_map(|(_, e)| match &e.body {
            EventBody::Workout {
                workout_type,
                details,
            } => Some((workout_type.as_str(), e, details)),
            _ => None,
        })
        .collect();
    let types: Vec<_> = workouts.iter().map(|w| w.0).collect();
    assert_eq!(types, ["running", "strength_training", "other", "cycling"]);
    // Moving time: the length less the pauses between pause and resume events, else the
    // element's `duration`.
    let moving: Vec<_> = workouts.iter().map(|w| w.2.moving_seconds).collect();
    assert_eq!(
        moving,
        [Some(2490), Some(2100), Some(1200), Some(72 * 60)],
        "the run paused a minute (its duration of 42.5 min is not taken over its events)"
    );
    let (_, run, d) = &workouts[0];
    assert_eq!(run.end - run.start, 42 * MIN + 30_000);
    assert_eq!(d.distance_m, Some(7250.0));
    assert_eq!(d.active_energy_kcal, Some(512.0));
    assert_eq!(
        (d.heart_rate_avg, d.heart_rate_max),
        (Some(152.4), Some(181.0))
    );
    assert_eq!(d.steps, Some(6840));
    assert!((d.elevation_gain_m.unwrap() - 45.2).abs() < 1e-9);
    let (_, lift, d) = &workouts[1];
    assert_eq!(lift.zone_offset, -5 * 3600);
    assert_eq!(d.active_energy_kcal, Some(210.0));
    assert_eq!(d.distance_m, None);
    assert_eq!(
        (d.heart_rate_avg, d.heart_rate_max),
        (Some(118.0), Some(149.0))
    );
    // The ride has no `duration`: 90 minutes less the user's pause and the watch's motion
    // pause overlapping it (09:30–09:43), a motion pause (2 min) and a last pause that no
    // resume ends (3 min); laps, segments and markers change nothing.
    let (_, ride, d) = &workouts[3];
    assert_eq!(ride.end - ride.start, 90 * MIN);
    assert_eq!(d.moving_seconds, Some((90 - 13 - 2 - 3) * 60));
    assert_eq!(d.distance_m, Some(31_400.0));
}

#[test]
fn the_fixture_maps_records_sleep_workouts_and_counts_what_it_skips() {
    let (all, result) = parse_all(&fixture()[..], 100_000);
    result.unwrap();
    assert_eq!(all.chunks, 1);
    check_fixture(&all);
}

#[test]
fn small_chunks_give_the_same_result_and_batches_pass_validation() {
    let (all, result) = parse_all(&fixture()[..], 3);
    result.unwrap();
    assert!(all.chunks >= 11);
    check_fixture(&all);
    let (batches, _) = validate_batches(all.batches, "batches", NOW_MS, &OffsetRule::Fixed(0))
        .expect("every sample the parser returns is valid");
    // 14 records of quantity types and the mindful session.
    assert_eq!(batches.iter().map(|b| b.samples.len()).sum::<usize>(), 15);
    let mut v = owl_server::domain::validate::Violations::new();
    let events: Vec<_> = all.events.into_iter().map(|(_, e)| e).collect();
    owl_server::domain::health::events::validate_events(&events, "events", NOW_MS, &mut v);
    assert!(v.finish().is_ok());
}

#[test]
fn a_zip_is_detected_by_content_and_export_xml_found_inside() {
    let xml = fixture();
    let bytes = zip_of(&[
        ("apple_health_export/export_cda.xml", b"<ClinicalDocument/>"),
        ("apple_health_export/workout-routes/route_1.gpx", b"<gpx/>"),
        ("apple_health_export/export.xml", &xml),
    ]);
    let all = open_bytes(&bytes, &Limits::default()).unwrap();
    check_fixture(&all);
    // Plain XML through `open` too.
    check_fixture(&open_bytes(&xml, &Limits::default()).unwrap());
}

#[test]
fn a_truncated_zip_fails_cleanly() {
    let bytes = zip_of(&[("apple_health_export/export.xml", &fixture())]);
    let cut = &bytes[..bytes.len() / 2];
    let error = open_bytes(cut, &Limits::default()).err().unwrap();
    assert!(matches!(error, ExportError::Truncated(_)), "{error:?}");
}

#[test]
fn a_zip_without_export_xml_is_refused() {
    let bytes = zip_of(&[("apple_health_export/export_cda.xml", b"<ClinicalDocument/>")]);
    let error = open_bytes(&bytes, &Limits::default()).err().unwrap();
    assert!(matches!(error, ExportError::NoExportXml), "{error:?}");
}

#[test]
fn a_zip_bomb_and_an_oversized_export_are_refused() {
    let mut bomb = b"<HealthData>".to_vec();
    bomb.resize(8 << 20, b' ');
    bomb.extend_from_slice(b"</HealthData>");
    let bytes = zip_of(&[("apple_health_export/export.xml", &bomb)]);
    assert!(bytes.len() < 100_000, "compresses more than 80 times");
    let limits = Limits {
        max_xml_bytes: 1 << 30,
        max_ratio: 50,
    };
    let error = open_bytes(&bytes, &limits).err().unwrap();
    assert!(
        matches!(error, ExportError::ZipBomb { max_ratio: 50, .. }),
        "{error:?}"
    );
    // The same entry within a generous ratio parses.
    let ok = Limits {
        max_xml_bytes: 1 << 30,
        max_ratio: 100_000,
    };
    assert_eq!(open_bytes(&bytes, &ok).unwrap().records, 0);
    // Plain XML past the size limit stops while reading.
    let small = Limits {
        max_xml_bytes: 4096,
        max_ratio: 100,
    };
    let error = open_bytes(&fixture(), &small).err().unwrap();
    assert!(
        matches!(error, ExportError::TooLarge { limit: 4096 }),
        "{error:?}"
    );
    let error = open_bytes(
        &zip_of(&[("apple_health_export/export.xml", &fixture())]),
        &small,
    )
    .err()
    .unwrap();
    assert!(matches!(error, ExportError::TooLarge { .. }), "{error:?}");
}

#[test]
fn malformed_xml_fails_at_its_line_and_byte_and_earlier_chunks_stay_valid() {
    let xml = String::from_utf8(fixture()).unwrap();
    // Break the file just after the 10th record.
    let mut at = 0;
    for _ in 0..10 {
        at += xml[at..].find("<Record ").unwrap() + 1;
    }
    let at = at + xml[at..].find('\n').unwrap() + 1;
    let bad = "<Record type=\"HKQuantityTypeIdentifierHeartRate\"></Recrod>\n";
    let broken = format!("{}{}{}", &xml[..at], bad, &xml[at..]);
    let line = xml[..at].matches('\n').count() as u64 + 1;
    let (all, result) = parse_all(broken.as_bytes(), 4);
    match result {
        Err(ExportError::Malformed {
            line: l,
            column,
            byte,
            message,
        }) => {
            assert_eq!(l, line, "{message}");
            let offset = byte - at as u64;
            assert!(offset < bad.len() as u64, "byte {byte}, insertion at {at}");
            assert_eq!(column, offset + 1);
            assert!(message.contains("Recrod"), "{message}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(all.chunks >= 2);
    assert!(all.records >= 8);
    // What came before the fault is what a clean parse returns in its first chunks.
    let (clean, _) = parse_all(xml.as_bytes(), 4);
    let key = |b: &RawBatch| (b.series_type.clone(), b.times.clone(), b.values.clone());
    let before: Vec<_> = all.batches.iter().map(key).collect();
    let clean: Vec<_> = clean.batches.iter().take(before.len()).map(key).collect();
    assert!(!before.is_empty());
    assert_eq!(before, clean);
}

#[test]
fn billion_laughs_and_unknown_entities_are_refused_without_expansion() {
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    doc.push_str(" <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n");
    for i in 2..10 {
        let prev = format!("&lol{};", i - 1).repeat(10);
        doc.push_str(&format!(" <!ENTITY lol{i} \"{prev}\">\n"));
    }
    doc.push_str("]>\n<HealthData><Record type=\"&lol9;\" value=\"&lol9;\"/>&lol9;</HealthData>\n");
    let (_, result) = parse_all(doc.as_bytes(), 100);
    assert!(matches!(result, Err(ExportError::Entities)), "{result:?}");
    // Without a declaration, a reference to an unknown entity is refused too.
    let attr = "<HealthData><Record type=\"&lol9;\" value=\"1\" startDate=\"2024-03-01 08:00:00 +0100\"/></HealthData>";
    let (_, result) = parse_all(attr.as_bytes(), 100);
    assert!(matches!(result, Err(ExportError::Entities)), "{result:?}");
    let text = "<HealthData>&lol9;</HealthData>";
    let (_, result) = parse_all(text.as_bytes(), 100);
    assert!(matches!(result, Err(ExportError::Entities)), "{result:?}");
}

#[test]
fn a_document_that_ends_early_is_truncated() {
    let xml = fixture();
    let cut = &xml[..xml.len() * 2 / 3];
    let (all, result) = parse_all(cut, 3);
    assert!(
        matches!(result, Err(ExportError::Truncated(_))),
        "{result:?}"
    );
    assert!(all.records > 0);
    let unclosed = b"<HealthData><Record type=\"x\"/>";
    let (_, result) = parse_all(&unclosed[..], 1000);
    assert!(
        matches!(result, Err(ExportError::Truncated(_))),
        "{result:?}"
    );
}

#[test]
fn user_entered_metadata_makes_records_and_workouts_manual_entries_of_their_own_source() {
    let device = "device=\"&lt;&lt;HKDevice: 0x1&gt;, name:Apple Watch, manufacturer:Apple Inc., \
                  model:Watch, hardware:Watch7,1&gt;\"";
    let hr = |t: &str, children: &str| {
        format!(
            "<Record type=\"HKQuantityTypeIdentifierHeartRate\" sourceName=\"Watch\" {device} \
             unit=\"count/min\" startDate=\"2024-03-01 08:{t}:00 +0100\" \
             endDate=\"2024-03-01 08:{t}:00 +0100\" value=\"60\">{children}</Record>"
        )
    };
    let doc = format!(
        "<HealthData>{}{}{}{}\
         <Workout workoutActivityType=\"HKWorkoutActivityTypeRunning\" sourceName=\"Watch\" {device} \
         startDate=\"2024-03-01 09:00:00 +0100\" endDate=\"2024-03-01 09:30:00 +0100\">\
         <MetadataEntry key=\"HKWasUserEntered\" value=\"1\"/></Workout></HealthData>",
        hr("00", ""),
        // After a nested list, so the depth of children is followed.
        hr(
            "01",
            "<HeartRateVariabilityMetadataList><InstantaneousBeatsPerMinute bpm=\"60\" \
             time=\"8:01:00\"/></HeartRateVariabilityMetadataList>\
             <MetadataEntry key=\"HKWasUserEntered\" value=\"1\"/>"
        ),
        hr(
            "02",
            "<MetadataEntry key=\"HKWasUserEntered\" value=\"0\"/>"
        ),
        hr(
            "03",
            "<MetadataEntry value=\"1\" key=\"HKWasUserEntered\"></MetadataEntry>"
        ),
    );
    let (all, result) = parse_all(doc.as_bytes(), 2);
    result.unwrap();
    assert_eq!(all.records, 5);
    let mut methods: Vec<(i64, RecordingMethod)> = Vec::new();
    for b in &all.batches {
        assert_eq!(b.source.manufacturer, "Apple Inc.");
        assert_eq!(b.source.device_model, "Watch7,1");
        methods.extend(b.times.iter().map(|&t| (t, b.source.recording_method)));
    }
    methods.sort_by_key(|m| m.0);
    let minute = |m: i64| 1_709_276_400_000 + m * MIN;
    assert_eq!(
        methods,
        [
            (minute(0), RecordingMethod::Unspecified),
            (minute(1), RecordingMethod::Manual),
            (minute(2), RecordingMethod::Unspecified),
            (minute(3), RecordingMethod::Manual),
        ]
    );
    assert_eq!(all.events.len(), 1);
    assert_eq!(all.events[0].0.recording_method, RecordingMethod::Manual);
    assert_eq!(all.events[0].0.manufacturer, "Apple Inc.");
}

#[test]
fn a_workout_activity_repeating_the_workouts_statistics_counts_them_once() {
    // An iOS 16 export: the run's WorkoutStatistics, then a WorkoutActivity (HKWorkoutActivity)
    // over the same span that repeats them. The run is 5.2 km and 410 kcal, not twice that.
    let stats = |distance: &str, energy: &str| {
        format!(
            "<WorkoutStatistics type=\"HKQuantityTypeIdentifierDistanceWalkingRunning\" \
             startDate=\"2024-03-01 09:00:00 +0100\" endDate=\"2024-03-01 09:30:00 +0100\" \
             sum=\"{distance}\" unit=\"km\"/>\
             <WorkoutStatistics type=\"HKQuantityTypeIdentifierActiveEnergyBurned\" \
             startDate=\"2024-03-01 09:00:00 +0100\" endDate=\"2024-03-01 09:30:00 +0100\" \
             sum=\"{energy}\" unit=\"kcal\"/>"
        )
    };
    let doc = format!(
        "<HealthData><Workout workoutActivityType=\"HKWorkoutActivityTypeRunning\" \
         sourceName=\"Watch\" startDate=\"2024-03-01 09:00:00 +0100\" \
         endDate=\"2024-03-01 09:30:00 +0100\">{}\
         <WorkoutActivity uuid=\"A1\" startDate=\"2024-03-01 09:00:00 +0100\" \
         endDate=\"2024-03-01 09:30:00 +0100\" duration=\"30\" durationUnit=\"min\">{}\
         </WorkoutActivity></Workout></HealthData>",
        stats("5.2", "410"),
        stats("5.2", "410"),
    );
    let (all, result) = parse_all(doc.as_bytes(), 10);
    result.unwrap();
    let details: Vec<_> = all
        .events
        .iter()
        .filter_map(|(_, e)| match &e.body {
            EventBody::Workout { details, .. } => Some(details.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(details.len(), 1);
    assert!((details[0].distance_m.unwrap() - 5200.0).abs() < 1e-9);
    assert_eq!(details[0].active_energy_kcal, Some(410.0));
}
