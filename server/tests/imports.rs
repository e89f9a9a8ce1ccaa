//! Apple Health imports through the SDK: both upload paths, the data they store, re-imports,
//! progress, and every bad input of issue 6. Runs on SQLite, or PostgreSQL with
//! OWL_TEST_POSTGRES_URL.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::time::Duration;

use common::{TestServer, assert_error};
use futures::StreamExt;
use owl::{Client, Code, pb};
use owl_server::import_cli::wait_for;

/// A small export shaped like the Health app's: a DTD subset, 40 heart-rate and 10 step
/// records, a sleep session of two stages and a walk with a pause, then `extra` before the end.
fn export(extra: &str) -> String {
    let watch = "sourceName=\"Jan’s Apple Watch\" sourceVersion=\"9.6\" device=\"&lt;&lt;HKDevice: 0x2821a6d00&gt;, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,2, software:9.6&gt;\"";
    let mut records = String::new();
    for i in 0..40 {
        let t = format!("2024-11-29 08:{:02}:00 +0100", i);
        records.push_str(&format!(
            " <Record type=\"HKQuantityTypeIdentifierHeartRate\" {watch} unit=\"count/min\" creationDate=\"{t}\" startDate=\"{t}\" endDate=\"{t}\" value=\"{}\"/>\n",
            60 + i
        ));
    }
    for i in 0..10 {
        let (s, e) = (
            format!("2024-11-29 09:{:02}:00 +0100", i * 5),
            format!("2024-11-29 09:{:02}:00 +0100", i * 5 + 4),
        );
        records.push_str(&format!(
            " <Record type=\"HKQuantityTypeIdentifierStepCount\" {watch} unit=\"count\" creationDate=\"{e}\" startDate=\"{s}\" endDate=\"{e}\" value=\"{}\"/>\n",
            100 + i
        ));
    }
    records.push_str(&format!(
        " <Record type=\"HKCategoryTypeIdentifierSleepAnalysis\" {watch} creationDate=\"2024-11-29 06:00:00 +0100\" startDate=\"2024-11-28 23:00:00 +0100\" endDate=\"2024-11-29 02:00:00 +0100\" value=\"HKCategoryValueSleepAnalysisAsleepCore\"/>\n \
         <Record type=\"HKCategoryTypeIdentifierSleepAnalysis\" {watch} creationDate=\"2024-11-29 06:00:00 +0100\" startDate=\"2024-11-29 02:00:00 +0100\" endDate=\"2024-11-29 03:30:00 +0100\" value=\"HKCategoryValueSleepAnalysisAsleepDeep\"/>\n"
    ));
    records.push_str(&format!(
        " <Workout workoutActivityType=\"HKWorkoutActivityTypeWalking\" duration=\"30\" durationUnit=\"min\" {watch} creationDate=\"2024-11-29 18:31:00 +0100\" startDate=\"2024-11-29 18:00:00 +0100\" endDate=\"2024-11-29 18:30:00 +0100\">\n  <MetadataEntry key=\"HKIndoorWorkout\" value=\"0\"/>\n  <WorkoutEvent type=\"HKWorkoutEventTypePause\" date=\"2024-11-29 18:10:00 +0100\"/>\n  <WorkoutEvent type=\"HKWorkoutEventTypeResume\" date=\"2024-11-29 18:12:00 +0100\"/>\n </Workout>\n"
    ));
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE HealthData [\n<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>\n<!ATTLIST HealthData locale CDATA #REQUIRED>\n]>\n<HealthData locale=\"en_US\">\n <ExportDate value=\"2024-12-01 10:00:00 +0100\"/>\n <Me HKCharacteristicTypeIdentifierDateOfBirth=\"1990-01-01\"/>\n{records}{extra}</HealthData>\n"
    )
}

fn zipped(name: &str, xml: &[u8]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file(name, options).unwrap();
        zip.write_all(xml).unwrap();
        zip.finish().unwrap();
    }
    out.into_inner()
}

/// A server with a worker, an application and a user.
struct Rig {
    server: TestServer,
    developer: Client,
    client: Client,
    user: pb::User,
    data_dir: tempfile::TempDir,
}

async fn rig() -> Rig {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path().display().to_string();
    let server = TestServer::start_with(&[("OWL_DATA_DIR", dir.as_str())]).await;
    tokio::spawn(server.jobs.worker().run(std::future::pending()));
    let developer = server.developer().await;
    let (_, client) = server.application(&developer, "importer").await;
    let user = server.user(&client, "jan").await;
    Rig {
        server,
        developer,
        client,
        user,
        data_dir,
    }
}

impl Rig {
    /// Streams `bytes` in 7 KiB messages.
    async fn stream(&self, bytes: &[u8]) -> Result<pb::Import, owl::Error> {
        let parent = self.user.name.clone();
        let messages: Vec<_> = bytes
            .chunks(7 * 1024)
            .enumerate()
            .map(|(i, chunk)| pb::ImportAppleHealthRequest {
                parent: if i == 0 {
                    parent.clone()
                } else {
                    String::new()
                },
                total_bytes: if i == 0 { bytes.len() as i64 } else { 0 },
                sha256: String::new(),
                data: chunk.to_vec(),
            })
            .collect();
        self.client
            .import_apple_health(futures::stream::iter(messages))
            .await
    }

    /// Streams `bytes` and waits for the import to end.
    async fn import(&self, bytes: &[u8]) -> pb::Import {
        let queued = self.stream(bytes).await.unwrap();
        self.finish(&queued).await
    }

    async fn finish(&self, import: &pb::Import) -> pb::Import {
        tokio::time::timeout(
            Duration::from_secs(60),
            wait_for(&self.client, import, |_| {}),
        )
        .await
        .expect("the import did not end in 60 s")
        .unwrap()
    }

    async fn heart_rate(&self) -> Vec<f64> {
        let page = self
            .client
            .list_samples(pb::ListSamplesRequest {
                parent: self.user.name.clone(),
                series_types: vec!["heart_rate".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        page.series.into_iter().flat_map(|s| s.values).collect()
    }

    fn spool_files(&self) -> usize {
        let dir = self.data_dir.path().join("imports");
        std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
    }
}

fn succeeded(import: &pb::Import) {
    assert_eq!(
        import.stage,
        pb::ImportStage::Succeeded as i32,
        "import failed: {}",
        import.error
    );
}

fn failed(import: &pb::Import) {
    assert_eq!(import.stage, pb::ImportStage::Failed as i32, "{import:?}");
}

#[tokio::test]
async fn a_streamed_export_is_stored_and_readable_through_the_time_series_and_event_apis() {
    let rig = rig().await;
    let done = rig.import(export("").as_bytes()).await;
    succeeded(&done);
    assert_eq!(done.samples_stored, 50, "{done:?}");
    assert_eq!(done.events_stored, 2, "{done:?}");
    assert!(done.records_parsed >= 53, "{done:?}");
    assert_eq!(done.sha256.len(), 64);
    let hr = rig.heart_rate().await;
    assert_eq!(hr.len(), 40);
    assert_eq!(hr[0], 60.0);
    let workouts = rig
        .client
        .list_workouts(pb::ListWorkoutsRequest {
            parent: rig.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(workouts.workouts.len(), 1);
    assert_eq!(
        workouts.workouts[0].moving_seconds,
        Some(28 * 60),
        "the walk less its two-minute pause"
    );
    let sleep = rig
        .client
        .list_sleep_sessions(pb::ListSleepSessionsRequest {
            parent: rig.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(sleep.sleep_sessions.len(), 1);
    assert_eq!(rig.spool_files(), 0, "the spool file is deleted when done");
    let listed = rig
        .client
        .list_imports(pb::ListImportsRequest {
            parent: rig.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.imports.len(), 1);
    assert_eq!(listed.imports[0].name, done.name);
}

#[tokio::test]
async fn sleep_gaps_follow_sleep_end_gap_minutes_and_a_mindful_session_is_not_a_workout() {
    let rig = rig().await;
    let watch = "sourceName=\"Jan’s Apple Watch\" sourceVersion=\"9.6\" device=\"&lt;&lt;HKDevice: 0x2821a6d00&gt;, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,2, software:9.6&gt;\"";
    let segment = |start: &str, end: &str, value: &str| {
        format!(
            " <Record type=\"HKCategoryTypeIdentifierSleepAnalysis\" {watch} creationDate=\"{end}\" startDate=\"{start}\" endDate=\"{end}\" value=\"HKCategoryValueSleepAnalysis{value}\"/>\n"
        )
    };
    // The night of the 26th: 23:00-01:00, then 03:00-05:00 after a wake gap of exactly 120
    // minutes (SLEEP_END_GAP_MINUTES' default: joins), then 07:01-07:30, 121 minutes later
    // (splits). With the export's own night of the 28th: three sessions.
    let mut extra = segment(
        "2024-11-26 23:00:00 +0100",
        "2024-11-27 01:00:00 +0100",
        "AsleepCore",
    );
    extra.push_str(&segment(
        "2024-11-27 03:00:00 +0100",
        "2024-11-27 05:00:00 +0100",
        "AsleepDeep",
    ));
    extra.push_str(&segment(
        "2024-11-27 07:01:00 +0100",
        "2024-11-27 07:30:00 +0100",
        "AsleepCore",
    ));
    extra.push_str(&format!(
        " <Record type=\"HKCategoryTypeIdentifierMindfulSession\" {watch} creationDate=\"2024-11-29 20:10:00 +0100\" startDate=\"2024-11-29 20:00:00 +0100\" endDate=\"2024-11-29 20:10:00 +0100\" value=\"HKCategoryValueNotApplicable\"/>\n"
    ));
    succeeded(&rig.import(export(&extra).as_bytes()).await);
    let sleep = rig
        .client
        .list_sleep_sessions(pb::ListSleepSessionsRequest {
            parent: rig.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut lengths: Vec<i64> = sleep
        .sleep_sessions
        .iter()
        .map(|s| s.end_time.as_ref().unwrap().seconds - s.start_time.as_ref().unwrap().seconds)
        .collect();
    lengths.sort_unstable();
    // 07:01-07:30; the export's 23:00-03:30; 23:00-05:00 joined.
    assert_eq!(lengths, [29 * 60, 270 * 60, 360 * 60]);
    let workouts = rig
        .client
        .list_workouts(pb::ListWorkoutsRequest {
            parent: rig.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(workouts.workouts.len(), 1, "the walk only");
    let mindful = rig
        .client
        .aggregate_samples(pb::AggregateSamplesRequest {
            parent: rig.user.name.clone(),
            series_types: vec!["mindful_time".into()],
            bucket: pb::Bucket::Day as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let bucket = &mindful.series[0].buckets[0];
    assert_eq!(
        (bucket.local_date.as_str(), bucket.sum),
        ("2024-11-29", 10.0)
    );
}

#[tokio::test]
async fn a_user_entered_record_lands_in_a_manual_source_of_its_device() {
    let rig = rig().await;
    let watch = "sourceName=\"Jan’s Apple Watch\" sourceVersion=\"9.6\" device=\"&lt;&lt;HKDevice: 0x2821a6d00&gt;, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,2, software:9.6&gt;\"";
    let t = "2024-11-29 12:00:00 +0100";
    let typed = format!(
        " <Record type=\"HKQuantityTypeIdentifierHeartRate\" {watch} unit=\"count/min\" creationDate=\"{t}\" startDate=\"{t}\" endDate=\"{t}\" value=\"77\">\n  <MetadataEntry key=\"HKWasUserEntered\" value=\"1\"/>\n </Record>\n"
    );
    let done = rig.import(export(&typed).as_bytes()).await;
    succeeded(&done);
    assert_eq!(done.samples_stored, 51, "{done:?}");
    let sources = rig
        .client
        .list_data_sources(pb::ListDataSourcesRequest {
            parent: rig.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .data_sources;
    let fields: Vec<(&str, &str, &str, i32)> = sources
        .iter()
        .map(|s| {
            (
                s.device_model.as_str(),
                s.app_name.as_str(),
                s.manufacturer.as_str(),
                s.recording_method,
            )
        })
        .collect();
    let app = "Jan’s Apple Watch";
    assert_eq!(sources.len(), 2, "{fields:?}");
    assert!(
        fields.contains(&(
            "Watch6,2",
            app,
            "Apple Inc.",
            pb::RecordingMethod::Unspecified as i32
        )),
        "{fields:?}"
    );
    let manual = sources
        .iter()
        .find(|s| s.recording_method == pb::RecordingMethod::ManualEntry as i32)
        .unwrap();
    assert_eq!(
        (
            manual.device_model.as_str(),
            manual.app_name.as_str(),
            manual.manufacturer.as_str()
        ),
        ("Watch6,2", app, "Apple Inc.")
    );
    let series = rig
        .client
        .list_samples(pb::ListSamplesRequest {
            parent: rig.user.name.clone(),
            series_types: vec!["heart_rate".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .series;
    let typed: Vec<f64> = series
        .iter()
        .filter(|s| s.data_source == manual.name)
        .flat_map(|s| s.values.clone())
        .collect();
    assert_eq!(
        typed,
        [77.0],
        "only the typed-in record is in the manual source"
    );
}

#[tokio::test]
async fn a_zipped_export_uploaded_in_resumable_chunks_survives_a_drop_and_a_resend() {
    let rig = rig().await;
    let file = zipped("apple_health_export/export.xml", export("").as_bytes());
    let upload = rig
        .client
        .create_upload(pb::CreateUploadRequest {
            parent: rig.user.name.clone(),
            total_bytes: file.len() as i64,
            sha256: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(upload.next_offset, 0);
    let half = file.len() / 2;
    let append = |offset: usize, end: usize| {
        rig.client
            .append_upload_chunk(pb::AppendUploadChunkRequest {
                name: upload.name.clone(),
                offset: offset as i64,
                data: file[offset..end].to_vec(),
            })
    };
    assert_eq!(append(0, half).await.unwrap().next_offset, half as i64);
    // The answer to a chunk was lost: the client sends it again, which changes nothing.
    assert_eq!(append(0, half).await.unwrap().next_offset, half as i64);
    // A gap is refused with the offset to resume at.
    let error = assert_error(
        append(half + 10, file.len()).await,
        Code::FailedPrecondition,
        "UPLOAD_OFFSET_MISMATCH",
    );
    assert!(
        error.message().contains(&format!("expected offset {half}")),
        "{error}"
    );
    // Completing early says what is missing.
    assert_error(
        rig.client
            .complete_upload(pb::CompleteUploadRequest {
                name: upload.name.clone(),
            })
            .await,
        Code::FailedPrecondition,
        "UPLOAD_INCOMPLETE",
    );
    // After the drop, the client asks where to resume.
    let resumed = rig
        .client
        .get_upload(pb::GetUploadRequest {
            name: upload.name.clone(),
        })
        .await
        .unwrap();
    assert_eq!(resumed.next_offset, half as i64);
    // An overlapping chunk keeps only its new bytes.
    append(half - 100, file.len()).await.unwrap();
    let queued = rig
        .client
        .complete_upload(pb::CompleteUploadRequest {
            name: upload.name.clone(),
        })
        .await
        .unwrap();
    assert_eq!(queued.name, upload.import);
    let done = rig.finish(&queued).await;
    succeeded(&done);
    assert_eq!(done.samples_stored, 50, "{done:?}");
    assert_eq!(rig.heart_rate().await.len(), 40);
}

#[tokio::test]
async fn the_same_file_again_is_already_exists_and_the_same_data_again_adds_nothing() {
    let rig = rig().await;
    let xml = export("");
    let first = rig.import(xml.as_bytes()).await;
    succeeded(&first);
    let error = assert_error(
        rig.stream(xml.as_bytes()).await,
        Code::AlreadyExists,
        "ALREADY_EXISTS",
    );
    assert_eq!(error.resource_name().as_deref(), Some(first.name.as_str()));
    // Announced up front, the checksum refuses the upload before any bytes.
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(xml.as_bytes()));
    assert_error(
        rig.client
            .create_upload(pb::CreateUploadRequest {
                parent: rig.user.name.clone(),
                total_bytes: 0,
                sha256: sha,
            })
            .await,
        Code::AlreadyExists,
        "ALREADY_EXISTS",
    );
    // Another file with the same records (a later export) adds nothing already stored.
    let again = rig
        .import(export("<!-- a later export -->\n").as_bytes())
        .await;
    succeeded(&again);
    assert_eq!(again.samples_stored, 0, "{again:?}");
    assert_eq!(again.events_stored, 0, "{again:?}");
    assert!(
        again.skipped.get("already_stored").copied().unwrap_or(0) >= 50,
        "{again:?}"
    );
    assert_eq!(rig.heart_rate().await.len(), 40);
}

#[tokio::test]
async fn watch_import_shows_the_current_state_then_progress_to_a_terminal_stage() {
    let first_rig = self::rig().await;
    let queued = first_rig.stream(export("").as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let last = first_rig.finish(&queued).await;
    succeeded(&last);
    // Watching a finished import gives its state once and ends.
    let mut stream = first_rig
        .client
        .watch_import(pb::WatchImportRequest {
            name: queued.name.clone(),
        })
        .await
        .unwrap();
    while let Some(item) = stream.next().await {
        seen.push(item.unwrap());
    }
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].records_parsed, last.records_parsed);
    // A live watch from the upload on sees the stages in order.
    let rig2 = self::rig().await;
    let upload = rig2
        .client
        .create_upload(pb::CreateUploadRequest {
            parent: rig2.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let watch = rig2
        .client
        .watch_import(pb::WatchImportRequest {
            name: upload.import.clone(),
        })
        .await
        .unwrap();
    let collected = tokio::spawn(watch.map(|i| i.unwrap()).collect::<Vec<_>>());
    let xml = export("");
    rig2.client
        .append_upload_chunk(pb::AppendUploadChunkRequest {
            name: upload.name.clone(),
            offset: 0,
            data: xml.as_bytes().to_vec(),
        })
        .await
        .unwrap();
    rig2.client
        .complete_upload(pb::CompleteUploadRequest {
            name: upload.name.clone(),
        })
        .await
        .unwrap();
    let states = tokio::time::timeout(Duration::from_secs(60), collected)
        .await
        .unwrap()
        .unwrap();
    let stages: Vec<i32> = states.iter().map(|i| i.stage).collect();
    assert_eq!(stages[0], pb::ImportStage::Receiving as i32);
    assert!(
        stages.contains(&(pb::ImportStage::Queued as i32)),
        "{stages:?}"
    );
    assert!(
        stages.contains(&(pb::ImportStage::Parsing as i32)),
        "{stages:?}"
    );
    assert_eq!(*stages.last().unwrap(), pb::ImportStage::Succeeded as i32);
    assert!(stages.windows(2).all(|w| w[0] <= w[1]), "{stages:?}");
    assert!(states.iter().any(|i| i.bytes_received == xml.len() as i64));
    assert_eq!(states.last().unwrap().samples_stored, 50);
}

#[tokio::test]
async fn a_truncated_zip_fails_the_import_with_a_reason() {
    let rig = rig().await;
    let file = zipped("apple_health_export/export.xml", export("").as_bytes());
    let done = rig.import(&file[..file.len() / 2]).await;
    failed(&done);
    assert!(!done.error.is_empty());
    assert_eq!(rig.spool_files(), 0);
}

#[tokio::test]
async fn a_zip_without_export_xml_fails_the_import() {
    let rig = rig().await;
    let done = rig.import(&zipped("notes.txt", b"hello")).await;
    failed(&done);
    assert!(done.error.contains("export.xml"), "{}", done.error);
}

#[tokio::test]
async fn a_zip_bomb_is_refused_by_its_expansion_ratio() {
    let rig = rig().await;
    // 64 MiB of one byte deflates to ~64 KiB: a ratio of ~1000.
    let zeros = vec![b' '; 64 << 20];
    let done = rig
        .import(&zipped("apple_health_export/export.xml", &zeros))
        .await;
    failed(&done);
    assert!(done.error.contains("expands"), "{}", done.error);
}

#[tokio::test]
async fn malformed_xml_fails_at_its_line_and_column_keeps_what_came_before_and_retries_safely() {
    let rig = rig().await;
    // Enough records before the break that earlier chunks are stored first.
    let mut before = String::new();
    for day in 0..20 {
        for i in 0..1200 {
            let t = format!(
                "2024-10-{:02} {:02}:{:02}:00 +0100",
                day + 1,
                i / 60,
                i % 60
            );
            before.push_str(&format!(
                " <Record type=\"HKQuantityTypeIdentifierHeartRate\" sourceName=\"Watch\" unit=\"count/min\" startDate=\"{t}\" endDate=\"{t}\" value=\"70\"/>\n"
            ));
        }
    }
    let xml = export(&format!("{before} <Record type=\"broken\" <oops/>\n"));
    let line = xml[..xml.find("<Record type=\"broken\"").unwrap()]
        .matches('\n')
        .count() as i64
        + 1;
    let done = rig.import(xml.as_bytes()).await;
    failed(&done);
    let location = done.error_location.expect("a location");
    assert_eq!(location.line, line, "{done:?}");
    assert!(location.column > 0);
    assert!(done.samples_stored > 0, "earlier chunks are kept: {done:?}");
    let kept = done.samples_stored;
    // The retry parses again, fails at the same place, and adds nothing twice.
    let retry = rig.import(xml.as_bytes()).await;
    failed(&retry);
    assert_eq!(retry.error_location.unwrap().line, line);
    assert_eq!(retry.samples_stored, 0, "{retry:?}");
    assert!(retry.skipped.get("already_stored").copied().unwrap_or(0) >= kept);
}

#[tokio::test]
async fn a_billion_laughs_document_is_refused_without_expanding() {
    let rig = rig().await;
    let xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE HealthData [\n <!ENTITY lol \"lol\">\n <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n]>\n<HealthData locale=\"en_US\"><Record type=\"HKQuantityTypeIdentifierHeartRate\" sourceName=\"&lol3;\" unit=\"count/min\" startDate=\"2024-11-29 08:00:00 +0100\" endDate=\"2024-11-29 08:00:00 +0100\" value=\"60\"/></HealthData>\n";
    let done = rig.import(xml.as_bytes()).await;
    failed(&done);
    assert!(done.error.contains("entities"), "{}", done.error);
    assert!(rig.heart_rate().await.is_empty());
}

#[tokio::test]
async fn unknown_record_types_and_absurd_values_are_counted_not_stored() {
    let rig = rig().await;
    let extra = " <Record type=\"HKQuantityTypeIdentifierMadeUpThing\" sourceName=\"Watch\" unit=\"count\" startDate=\"2024-11-29 10:00:00 +0100\" endDate=\"2024-11-29 10:00:00 +0100\" value=\"1\"/>\n \
                 <Record type=\"HKQuantityTypeIdentifierHeartRate\" sourceName=\"Watch\" unit=\"count/min\" startDate=\"2024-11-29 11:00:00 +0100\" endDate=\"2024-11-29 11:00:00 +0100\" value=\"9000\"/>\n \
                 <Record type=\"HKQuantityTypeIdentifierStepCount\" sourceName=\"Watch\" unit=\"count\" startDate=\"2024-11-29 11:00:00 +0100\" endDate=\"2024-11-29 11:05:00 +0100\" value=\"-5\"/>\n";
    let done = rig.import(export(extra).as_bytes()).await;
    succeeded(&done);
    assert_eq!(done.samples_stored, 50, "{done:?}");
    assert!(
        done.skipped.keys().any(|k| k.contains("unknown_type")),
        "{:?}",
        done.skipped
    );
    assert!(done.skipped_total >= 3, "{:?}", done.skipped);
    assert_eq!(done.skipped.values().sum::<i64>(), done.skipped_total);
    assert!(!rig.heart_rate().await.contains(&9000.0));
}

#[tokio::test]
async fn a_client_that_disconnects_mid_upload_leaves_a_failed_import_and_no_spool_file() {
    let rig = rig().await;
    let xml = export("");
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::ImportAppleHealthRequest>(1);
    let client = rig.client.clone();
    let call = tokio::spawn(async move {
        client
            .import_apple_health(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    tx.send(pb::ImportAppleHealthRequest {
        parent: rig.user.name.clone(),
        total_bytes: xml.len() as i64,
        sha256: String::new(),
        data: xml.as_bytes()[..1000].to_vec(),
    })
    .await
    .unwrap();
    // Wait until the server holds the upload, then drop the call mid-stream.
    let mut import = None;
    for _ in 0..100 {
        let listed = rig
            .client
            .list_imports(pb::ListImportsRequest {
                parent: rig.user.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        if let Some(i) = listed
            .imports
            .into_iter()
            .next()
            .filter(|i| i.bytes_received > 0 || i.stage == pb::ImportStage::Receiving as i32)
        {
            import = Some(i);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let import = import.expect("the upload started");
    assert_eq!(rig.spool_files(), 1);
    call.abort();
    drop(tx);
    let done = rig.finish(&import).await;
    failed(&done);
    assert!(done.error.contains("broke off"), "{}", done.error);
    assert_eq!(rig.spool_files(), 0);
    // The user can import again at once.
    succeeded(&rig.import(xml.as_bytes()).await);
}

#[tokio::test]
async fn a_second_concurrent_import_of_the_same_user_is_refused() {
    let rig = rig().await;
    let first = rig
        .client
        .create_upload(pb::CreateUploadRequest {
            parent: rig.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let error = assert_error(
        rig.stream(export("").as_bytes()).await,
        Code::FailedPrecondition,
        "IMPORT_IN_PROGRESS",
    );
    assert!(error.message().contains(&first.import), "{error}");
    // Another user is not held up.
    let other = rig.server.user(&rig.client, "ola").await;
    rig.client
        .create_upload(pb::CreateUploadRequest {
            parent: other.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn another_applications_user_and_their_imports_are_not_found() {
    let rig = rig().await;
    let (_, stranger) = rig.server.application(&rig.developer, "stranger").await;
    let done = rig.import(export("").as_bytes()).await;
    assert_error(
        stranger
            .get_import(pb::GetImportRequest {
                name: done.name.clone(),
            })
            .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_error(
        stranger
            .create_upload(pb::CreateUploadRequest {
                parent: rig.user.name.clone(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn the_cli_uploads_an_export_and_prints_the_summary() {
    let rig = rig().await;
    let owl::Credentials::ApiKey(key) = rig.client.credentials().clone() else {
        panic!("an api key client");
    };
    let file = rig.data_dir.path().join("export.zip");
    std::fs::write(
        &file,
        zipped("apple_health_export/export.xml", export("").as_bytes()),
    )
    .unwrap();
    let run = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_owl"))
            .args(["import", "apple-health"])
            .arg(&file)
            .args(["--user", &rig.user.name, "--server", &rig.server.url])
            .env("OWL_API_KEY", &key)
            .output()
    };
    let output = run().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("succeeded"), "{stdout}");
    assert!(stdout.contains("samples stored 50"), "{stdout}");
    assert!(stdout.contains("records/s"), "{stdout}");
    assert_eq!(rig.heart_rate().await.len(), 40);
    // The same file again: detected before uploading, nothing to do.
    let again = run().await.unwrap();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success());
    assert!(stdout.contains("already imported"), "{stdout}");
}

#[tokio::test]
async fn a_watch_here_follows_an_import_that_a_worker_in_another_process_runs() {
    let mut backends: Vec<Option<(String, String)>> = vec![None];
    if let Some(url) = common::redis_url() {
        backends.push(Some((
            url,
            format!("owl-import-test:{}:", uuid::Uuid::now_v7().simple()),
        )));
    }
    for redis in backends {
        // Two processes on one database and one data directory (`owl serve --no-worker` and
        // `owl worker`): this one receives the file and the watch, the other runs the job.
        let data_dir = tempfile::tempdir().unwrap();
        let dir = data_dir.path().display().to_string();
        let mut vars: Vec<(&str, &str)> = vec![("OWL_DATA_DIR", &dir)];
        if let Some((url, prefix)) = &redis {
            vars.push(("REDIS_URL", url));
            vars.push(("OWL_REDIS_KEY_PREFIX", prefix));
        }
        let api_side = TestServer::start_with(&vars).await;
        let db_url = api_side.db.url.clone();
        vars.push(("DATABASE_URL", &db_url));
        let worker_side = TestServer::start_with(&vars).await;
        let developer = api_side.developer().await;
        let (_, client) = api_side.application(&developer, "importer").await;
        let user = api_side.user(&client, "jan").await;
        let bytes = export("").into_bytes();
        let queued = client
            .import_apple_health(futures::stream::iter([pb::ImportAppleHealthRequest {
                parent: user.name.clone(),
                total_bytes: bytes.len() as i64,
                sha256: String::new(),
                data: bytes,
            }]))
            .await
            .unwrap();
        let worker = tokio::spawn(worker_side.jobs.worker().run(std::future::pending()));
        let mut stages = Vec::new();
        let done = tokio::time::timeout(
            Duration::from_secs(30),
            wait_for(&client, &queued, |i| stages.push(i.stage)),
        )
        .await
        .unwrap_or_else(|_| panic!("the watch saw no end on {redis:?}: {stages:?}"))
        .unwrap();
        worker.abort();
        succeeded(&done);
        assert_eq!(done.samples_stored, 50, "{redis:?}: {done:?}");
        assert_eq!(
            stages.last(),
            Some(&(pb::ImportStage::Succeeded as i32)),
            "{redis:?}: {stages:?}"
        );
        if let Some((url, prefix)) = &redis {
            common::remove_redis_keys(url, prefix).await;
        }
        drop(data_dir);
    }
}
