//! The fuzz corpus (`fuzz/corpus/<target>/`) replayed through the same entry points the
//! cargo-fuzz targets call (`emengine::fuzzing`), on the stable toolchain: every input must
//! return (an error is fine) without a panic. Crashing inputs found by fuzzing are added to the
//! corpus, so this test keeps them fixed.
//!
//! `write_seeds` (ignored) regenerates the seed inputs from a generated tree; `cargo fuzz cmin`
//! then minimises seeds plus findings into `fuzz/corpus/`.

use emengine::fuzzing::TARGETS;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus")
}

#[test]
fn every_corpus_input_runs_without_a_panic() {
    let mut total = 0;
    for (name, run) in TARGETS {
        let dir = corpus_dir().join(name);
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{}: empty corpus", dir.display());
        for path in &inputs {
            let data = std::fs::read(path).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{name}: {} panics", path.display());
        }
        total += inputs.len();
    }
    assert!(total >= TARGETS.len());
}

/// Truncated and bit-flipped variants of every corpus input: a cheap, deterministic fuzz pass
/// in the regular test run (the decoders' early exits are where off-by-one bugs live).
#[test]
fn truncated_and_flipped_corpus_inputs_run_without_a_panic() {
    for (name, run) in TARGETS {
        let dir = corpus_dir().join(name);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            let cuts = [0, 1, 7, 12, 13, 64, 108, 4096, 4097, 8192, data.len() / 2];
            for &cut in cuts.iter().filter(|&&c| c < data.len()) {
                run(&data[..cut]);
            }
            for at in (0..data.len()).step_by(data.len() / 16 + 1) {
                let mut flipped = data.clone();
                flipped[at] ^= 0xA5;
                run(&flipped);
            }
        }
    }
}

/// Write seed inputs for every target from a small generated tree into `fuzz/seeds/`.
#[test]
#[ignore = "regenerates fuzz seeds; run by hand"]
fn write_seeds() {
    use emengine::seg::file::{Access, Layout, SegmentFile};
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    let opts = emfixtures::GenOptions {
        seed: 3,
        logical_bytes: 2 << 20,
        scenario: emfixtures::Scenario::Mixed,
        threads: Some(1),
    };
    emfixtures::generate(&tree, &opts, &emengine::progress::NoProgress).unwrap();
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    write(
        "extent_map",
        "generated_em",
        &std::fs::read(tree.join("BRM_saves_em")).unwrap(),
    );
    write(
        "config",
        "generated.xml",
        &std::fs::read(tree.join("Columnstore.xml")).unwrap(),
    );

    let files = emengine::catalog::locate::catalog_files_in(&tree.join("data1"));
    let mut catalog = Vec::new();
    let mut dicts = 0;
    let mut scratch = emengine::seg::file::ChunkReader::new();
    for (oid, path) in &files {
        let seg = SegmentFile::open(path, Access::Read).unwrap();
        let first = seg.chunk_data(0, &mut scratch).unwrap();
        let keep = &first[..first.len().min(8192)];
        catalog.extend_from_slice(&(oid.0 as u16).to_le_bytes());
        catalog.extend_from_slice(&(keep.len() as u16).to_le_bytes());
        catalog.extend_from_slice(keep);
        if oid.0 > 2000 && dicts < 4 && keep.len() == 8192 {
            write("dictionary", &format!("catalog_dict_{}", oid.0), keep);
            dicts += 1;
        }
    }
    // Compressed user files: the first chunk slot, and the file cut after its first chunk.
    let mut chunk_seeds = 0;
    for entry in walkdir::WalkDir::new(&tree).sort_by_file_name() {
        let path = entry.unwrap().into_path();
        if chunk_seeds == 6 || path.extension().is_none_or(|e| e != "cdf") {
            continue;
        }
        let seg = SegmentFile::open(&path, Access::Read).unwrap();
        let Layout::Compressed { chunks, header } = seg.layout() else {
            continue;
        };
        let Some(slot) = chunks.first().filter(|s| s.len < 256 << 10) else {
            continue;
        };
        chunk_seeds += 1;
        let bytes = std::fs::read(&path).unwrap();
        let raw = &bytes[slot.offset as usize..(slot.offset + slot.len) as usize];
        let mut input = vec![header.compression.code() as u8];
        input.extend_from_slice(raw);
        write("chunk", &format!("user_{chunk_seeds}"), &input);
        let end = (slot.offset + slot.len) as usize;
        let mut image = bytes[..end].to_vec();
        // Keep pointers 0 and 1 (the first chunk), zero the rest of the pointer section.
        image[4096 + 16..header.header_size as usize].fill(0);
        write("segment_header", &format!("user_{chunk_seeds}"), &image);
    }
    write("catalog", "generated_catalog", &catalog);
}
