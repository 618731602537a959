//! `emrebuild inspect`: text and JSON for compressed and uncompressed segment files, run
//! through the real binary on files written in a temp dir.

mod util;

use assert_cmd::Command;
use emengine::seg::header::{CompressionType, ControlHeader};
use emengine::seg::writer::CompressedWriter;
use emengine::types::{Oid, SegmentId, BLOCK_SIZE};
use serde_json::Value;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Output;
use util::{emrebuild, s};

fn seg_path(root: &Path, oid: i32, partition: u32, segment: u16) -> PathBuf {
    let p = root.join(emengine::seg::path::segment_rel_path(SegmentId {
        oid: Oid(oid),
        partition,
        segment,
    }));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    p
}

/// A v3 BIGINT column file (LZ4) in partition 1000: a short chunk 0 and one full chunk.
fn compressed_file(root: &Path) -> (PathBuf, Vec<u64>) {
    let path = seg_path(root, 3009, 1000, 2);
    let header = ControlHeader {
        version: 3,
        compression: CompressionType::Lz4,
        header_size: 8192,
        block_count: 16384,
        width: 8,
        data_type: 9,
        lbids: vec![242_688, 250_880],
    };
    let mut w = CompressedWriter::new(File::create(&path).unwrap(), header).unwrap();
    let mut sizes = Vec::new();
    for (i, blocks) in [256usize, 512].into_iter().enumerate() {
        let data: Vec<u8> = (0..blocks * BLOCK_SIZE / 8)
            .flat_map(|v| (v as u64 / 4 + i as u64 * 1_000_000).to_le_bytes())
            .collect();
        w.push_chunk(&data, 1).unwrap();
        sizes.push(data.len() as u64);
    }
    w.finish().unwrap();
    (path, sizes)
}

fn uncompressed_file(root: &Path) -> PathBuf {
    let path = seg_path(root, 1001, 0, 0);
    std::fs::write(&path, vec![0xFFu8; 3 * BLOCK_SIZE]).unwrap();
    path
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn json_for_a_compressed_file() {
    let dir = tempfile::tempdir().unwrap();
    let (path, sizes) = compressed_file(dir.path());
    let v = json(&emrebuild(&["inspect", "--json", s(&path)], 0));
    assert_eq!(v["path"], s(&path));
    assert_eq!(v["oid"], 3009);
    assert_eq!(v["partition"], 1000);
    assert_eq!(v["segment"], 2);
    assert_eq!(v["compressed"], true);
    let h = &v["header"];
    assert_eq!(h["version"], 3);
    assert_eq!(h["compression"], "lz4");
    assert_eq!(h["header_size"], 8192);
    assert_eq!(h["block_count"], 16384);
    assert_eq!(h["width"], 8);
    assert_eq!(h["data_type"], "BIGINT");
    assert_eq!(h["lbids"], serde_json::json!([242_688, 250_880]));
    let chunks = v["chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0]["offset"], 8192);
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c["index"], i);
        assert_eq!(c["uncompressed_size"], sizes[i]);
        assert_eq!(c["checksum_ok"], true);
        assert!(c.get("error").is_none());
        let payload = c["compressed_size"].as_u64().unwrap();
        assert!(payload > 0 && payload + 9 <= c["slot_size"].as_u64().unwrap());
    }
    let file_len = std::fs::metadata(&path).unwrap().len();
    assert_eq!(
        chunks[1]["offset"].as_u64().unwrap() + chunks[1]["slot_size"].as_u64().unwrap(),
        file_len
    );
}

#[test]
fn json_for_several_files_is_an_array_and_uncompressed_has_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let (cpath, _) = compressed_file(dir.path());
    let upath = uncompressed_file(dir.path());
    let v = json(&emrebuild(&["inspect", "--json", s(&cpath), s(&upath)], 0));
    let all = v.as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["oid"], 3009);
    let u = &all[1];
    assert_eq!(
        (
            u["oid"].as_i64(),
            u["partition"].as_i64(),
            u["segment"].as_i64()
        ),
        (Some(1001), Some(0), Some(0))
    );
    assert_eq!(u["compressed"], false);
    assert_eq!(u["blocks"], 3);
    assert!(u.get("header").is_none() && u.get("chunks").is_none());
}

#[test]
fn text_output() {
    let dir = tempfile::tempdir().unwrap();
    let (cpath, sizes) = compressed_file(dir.path());
    let upath = uncompressed_file(dir.path());
    let out = emrebuild(&["inspect", s(&cpath), s(&upath)], 0);
    let text = String::from_utf8(out.stdout).unwrap();
    let blocks: Vec<&str> = text.split("\n\n").collect();
    assert_eq!(blocks.len(), 2, "{text}");
    let c: Vec<&str> = blocks[0].lines().collect();
    assert_eq!(c[0], s(&cpath));
    for want in [
        "  oid           3009",
        "  partition     1000",
        "  segment       2",
        "  compressed    yes",
        "  version       3",
        "  compression   3 (lz4)",
        "  header size   8192",
        "  block count   16384",
        "  width         8",
        "  data type     BIGINT (9)",
        "  lbids         242688 250880",
        "  chunks        2",
    ] {
        assert!(c.contains(&want), "missing {want:?} in\n{text}");
    }
    let rows: Vec<Vec<&str>> = c
        .iter()
        .skip_while(|l| !l.trim_start().starts_with("chunk "))
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[0][0..2], ["0", "8192"]);
    assert_eq!(rows[0][4], sizes[0].to_string());
    assert_eq!(rows[1][4], sizes[1].to_string());
    assert!(rows.iter().all(|r| r[5] == "ok"), "{text}");
    let u: Vec<&str> = blocks[1].lines().collect();
    assert_eq!(u[0], s(&upath));
    assert!(
        u.contains(&"  compressed    no") && u.contains(&"  blocks        3"),
        "{text}"
    );
}

#[test]
fn a_damaged_chunk_is_listed_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = compressed_file(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[8192 + 100] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let v = json(&emrebuild(&["inspect", "--json", s(&path)], 0));
    let c0 = &v["chunks"][0];
    assert_eq!(c0["checksum_ok"], false);
    assert!(c0["uncompressed_size"].is_null());
    let err = c0["error"].as_str().unwrap();
    assert!(err.starts_with("at byte 8193: bad checksum"), "{err}");
    assert_eq!(v["chunks"][1]["checksum_ok"], true);
    let text = String::from_utf8(emrebuild(&["inspect", s(&path)], 0).stdout).unwrap();
    assert!(
        text.contains("  bad  error: at byte 8193: bad checksum"),
        "{text}"
    );
}

#[test]
fn not_a_segment_path_is_exit_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (good, _) = compressed_file(dir.path());
    let bad = good.with_extension("cdf.tmp");
    std::fs::copy(&good, &bad).unwrap();
    let out = emrebuild(&["inspect", s(&good), s(&bad)], 2);
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("emrebuild: {}: not a segment file", bad.display())),
        "{err}"
    );
}

#[test]
fn corrupt_header_is_one_error_line_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = compressed_file(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 1);
    std::fs::write(&path, &bytes).unwrap();
    for json_flag in [false, true] {
        let mut args = vec!["inspect", s(&path)];
        if json_flag {
            args.push("--json");
        }
        let out = emrebuild(&args, 2);
        assert!(out.stdout.is_empty());
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!(
                "emrebuild: {}: at byte 4112: truncated",
                path.display()
            )),
            "{err}"
        );
    }
}

#[test]
fn missing_file_argument_is_a_usage_error() {
    let out = Command::cargo_bin("emrebuild")
        .unwrap()
        .arg("inspect")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
