//! The rebuild through StorageManager with the objects in an S3 bucket, read over the S3 API
//! (presigned, ranged GETs) from a real S3-compatible server on the loopback address, started
//! by `scripts/s3-test-server.sh` (`.ci/run` starts it and exports `EMREBUILD_S3_ENDPOINT`).
//!
//! Without `EMREBUILD_S3_ENDPOINT` the test says so and skips — except under `CI=true`, where
//! it fails.

use emengine::config::ClusterConfig;
use emengine::em::EmVersion;
use emengine::progress::NoProgress;
use emengine::rebuild::{rebuild, RebuildOptions};
use emengine::sm::config::SmConfig;
use emengine::sm::{view, Storage};
use emfixtures::storagemanager::{convert, s3_cnf, SmLayoutOptions};
use emfixtures::{generate, GenOptions, Scenario};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use std::time::Duration;

const KEY_ID: &str = "emrebuild-test";
const SECRET: &str = "emrebuild-test-secret";

fn endpoint() -> Option<String> {
    match std::env::var("EMREBUILD_S3_ENDPOINT") {
        Ok(e) if !e.is_empty() => Some(e),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!(
            "CI=true but EMREBUILD_S3_ENDPOINT is not set: .ci/run must start \
             scripts/s3-test-server.sh before cargo test"
        ),
        _ => {
            eprintln!(
                "SKIPPED: EMREBUILD_S3_ENDPOINT is not set; run \
                 `eval \"$(scripts/s3-test-server.sh start)\"` first to test reading over S3"
            );
            None
        }
    }
}

fn bucket(endpoint: &str, name: &str) -> Bucket {
    let url = format!("http://{endpoint}").parse().unwrap();
    Bucket::new(url, UrlStyle::Path, name.to_string(), "us-east-1").unwrap()
}

#[test]
fn rebuild_reading_objects_over_s3_equals_the_plain_rebuild() {
    let Some(endpoint) = endpoint() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("t");
    let opts = GenOptions {
        seed: 21,
        logical_bytes: 4 << 20,
        scenario: Scenario::Mixed,
        threads: Some(2),
    };
    generate(&plain, &opts, &NoProgress).unwrap();
    let cfg = ClusterConfig::read(&plain.join("Columnstore.xml")).unwrap();
    let ropts = RebuildOptions {
        dbroots: cfg.dbroots.clone(),
        ..RebuildOptions::default()
    };
    let plain_map = rebuild(&ropts, &NoProgress)
        .unwrap()
        .map
        .encode(EmVersion::V5);

    let sm_root = dir.path().join("sm");
    let object_size = 200_000;
    let layout = convert(
        &cfg.dbroots,
        &sm_root,
        &SmLayoutOptions {
            object_size,
            seed: 21,
        },
    )
    .unwrap();
    assert!(layout.backend_objects.len() > 10, "{layout:?}");

    // Upload the backend's objects to a fresh bucket, then remove the local copies.
    let name = format!("emrebuild-{}", std::process::id());
    let b = bucket(&endpoint, &name);
    let creds = Credentials::new(KEY_ID, SECRET);
    let agent = ureq::Agent::new();
    let url = b.create_bucket(&creds).sign(Duration::from_secs(60));
    agent
        .put(url.as_str())
        .send_bytes(&[])
        .expect("create the bucket");
    let (missing_key, _) = layout.backend_objects[3].clone();
    for (key, path) in &layout.backend_objects {
        let url = b
            .put_object(Some(&creds), key)
            .sign(Duration::from_secs(60));
        if *key != missing_key {
            agent
                .put(url.as_str())
                .send_bytes(&std::fs::read(path).unwrap())
                .expect("upload an object");
        }
    }
    let withheld = std::fs::read(sm_root.join("fake-cloud").join(&missing_key)).unwrap();
    std::fs::remove_dir_all(sm_root.join("fake-cloud")).unwrap();
    let cnf = sm_root.join("storagemanager-s3.cnf");
    std::fs::write(
        &cnf,
        s3_cnf(
            &sm_root,
            object_size,
            layout.common_prefix_depth,
            &endpoint,
            &name,
            KEY_ID,
            SECRET,
        ),
    )
    .unwrap();
    let moved = dir.path().join("moved");
    std::fs::rename(&plain, &moved).unwrap();

    // Ranges smaller than an object: every full object takes two ranged GETs.
    let sm = Storage::open(SmConfig::read(&cnf, &|_| None).unwrap())
        .unwrap()
        .with_range_bytes(128 << 10);
    let rebuilt = view::rebuild(&sm, &ropts, &NoProgress).unwrap();
    // The one object never uploaded is a damaged file naming its key; nothing else is.
    let d: Vec<_> = rebuilt.report.damaged().collect();
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].detail.contains(&missing_key), "{}", d[0].detail);
    assert!(
        d[0].detail.contains(&format!("s3://{name}/{missing_key}")),
        "{}",
        d[0].detail
    );

    // Upload it and every file assembles; the map equals the plain tree's.
    let url = b
        .put_object(Some(&creds), &missing_key)
        .sign(Duration::from_secs(60));
    agent.put(url.as_str()).send_bytes(&withheld).unwrap();
    let rebuilt = view::rebuild(&sm, &ropts, &NoProgress).unwrap();
    assert!(
        rebuilt.report.is_clean(),
        "{:?}",
        rebuilt.report.damaged().collect::<Vec<_>>()
    );
    assert!(rebuilt.map.encode(EmVersion::V5) == plain_map);
}
