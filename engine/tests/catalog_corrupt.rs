//! Damaged catalog files: errors name the file and the byte offset, findings are reported, nothing panics.

mod catalog_support;

use emengine::seg::file::Access;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use catalog_support::{Catalog as Builder, BLOCK};
use emengine::catalog::reader::{read_catalog, CatalogFiles};
use emengine::catalog::syscat::{syscat_layout, Generation};
use emengine::catalog::tokens::{check_token_lbids, infer_dict_starts, DictExtent};
use emengine::error::{DecodeKind, Error};
use emengine::types::{Lbid, Oid};
use proptest::prelude::*;

fn starts() -> BTreeMap<Oid, Lbid> {
    syscat_layout(&Generation::C.oids())
        .into_iter()
        .map(|e| (e.oid, e.lbid))
        .collect()
}

/// A generation-C catalog with two tables, written once per test.
fn catalog(dir: &Path) -> CatalogFiles {
    let mut b = Builder::worked_example('C');
    let mut c = catalog_support::Col::new("d", 3007, 12, 10).dict(3008);
    c.default = Some("dflt");
    b.create_table("test", "t2", 3006, Some(3009), &[c]);
    b.write(dir)
}

/// `files` with the file of `oid` replaced by `bytes`, written to `scratch`.
fn replaced(
    files: &CatalogFiles,
    oid: Oid,
    bytes: &[u8],
    scratch: &Path,
) -> (CatalogFiles, PathBuf) {
    let path = scratch.join(format!("{}.cdf", oid.0));
    std::fs::write(&path, bytes).unwrap();
    let mut out = files.clone();
    out.insert(oid, path.clone());
    (out, path)
}

fn assert_truncation(err: &Error, path: &Path, len: usize) {
    let whole = (len / BLOCK * BLOCK) as u64;
    assert_eq!(err.path(), Some(path), "{err}");
    assert_eq!(err.offset(), Some(whole), "{err}");
    match err {
        Error::Decode { source, .. } => {
            assert!(
                matches!(source.kind, DecodeKind::Truncated { found, .. } if found == (len % BLOCK) as u64)
            )
        }
        other => panic!("{other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}: at byte {whole}: truncated", path.display())),
        "{msg}"
    );
}

#[test]
fn truncated_column_file_is_an_error_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let files = catalog(dir.path());
    let full = std::fs::read(&files[&Oid(1024)]).unwrap();
    let (files, path) = replaced(&files, Oid(1024), &full[..3 * BLOCK + 100], dir.path());
    let err = read_catalog(&files, &starts(), Access::Read).unwrap_err();
    assert_truncation(&err, &path, 3 * BLOCK + 100);
    assert_eq!(
        err.to_string(),
        format!(
            "{}: at byte 24576: truncated: expected catalog block 3 (8192 bytes), found 100 bytes",
            path.display()
        )
    );
}

#[test]
fn truncated_dictionary_file_is_an_error_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let files = catalog(dir.path());
    let full = std::fs::read(&files[&Oid(2067)]).unwrap();
    let (files, path) = replaced(&files, Oid(2067), &full[..BLOCK - 1], dir.path());
    assert_truncation(
        &read_catalog(&files, &starts(), Access::Read).unwrap_err(),
        &path,
        BLOCK - 1,
    );
    let ext: BTreeMap<Oid, Vec<DictExtent>> = starts()
        .into_iter()
        .map(|(o, s)| (o, vec![DictExtent::single(s, 8192)]))
        .collect();
    assert_truncation(
        &check_token_lbids(&files, &ext, Access::Read).unwrap_err(),
        &path,
        BLOCK - 1,
    );
    assert_truncation(
        &infer_dict_starts(&files, &BTreeMap::new(), Access::Read).unwrap_err(),
        &path,
        BLOCK - 1,
    );
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = catalog(dir.path());
    let gone = dir.path().join("nope/FILE000.cdf");
    files.insert(Oid(1003), gone.clone());
    let err = read_catalog(&files, &starts(), Access::Read).unwrap_err();
    assert!(
        matches!(&err, Error::Io { path, op: "open", .. } if path == &gone),
        "{err}"
    );
}

#[test]
fn block_aligned_truncation_only_loses_rows() {
    let dir = tempfile::tempdir().unwrap();
    let files = catalog(dir.path());
    // 1036 cut to zero blocks: every SYSCOLUMN row is torn in `autoincrement`
    let (files, path) = replaced(&files, Oid(1036), &[], dir.path());
    let cat = read_catalog(&files, &starts(), Access::Read).unwrap();
    assert_eq!(cat.columns().count(), 4);
    assert!(cat.problems[0].starts_with(&format!(
        "{}: catalog file of OID 1036 is empty",
        path.display()
    )));
    assert!(
        cat.problems[1].ends_with("syscolumn row 0 is live but EMPTY in autoincrement (1036)"),
        "{:?}",
        cat.problems
    );
}

#[test]
fn corrupt_dictionary_block_is_a_problem_naming_the_dictionary_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = catalog(dir.path());
    let mut bytes = std::fs::read(&files[&Oid(2067)]).unwrap();
    bytes[11] = 0x10; // offset[0] becomes 4096
    let (files, path) = replaced(&files, Oid(2067), &bytes, dir.path());
    let cat = read_catalog(&files, &starts(), Access::Read).unwrap();
    assert_eq!(
        cat.problems.len(),
        5,
        "one for the start, one per token: {:?}",
        cat.problems
    );
    assert!(cat.problems[0].contains("no start LBID of dictionary 2067 fits all 4 tokens"));
    assert!(
        cat.problems[1].contains(&format!(
            "in dictionary 2067 ({}): block 0 is not a dictionary block: at byte 10: invalid offset[0]",
            path.display()
        )),
        "{:?}",
        cat.problems
    );
}

#[test]
fn problems_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let files = catalog(dir.path());
    // every SYSCOLUMN row is live (objectid 5000) and torn: 32768 rows, far more than the cap
    let (files, _) = replaced(
        &files,
        Oid(1024),
        &5000u32.to_le_bytes().repeat(8 * BLOCK / 4),
        dir.path(),
    );
    let cat = read_catalog(&files, &starts(), Access::Read).unwrap();
    assert_eq!(
        cat.problems.len(),
        emengine::catalog::reader::MAX_PROBLEMS + 1
    );
    assert!(cat.problems.last().unwrap().starts_with("... and "));
}

const OIDS: [i32; 43] = {
    let mut out = [0; 43];
    let mut i = 0;
    while i < 43 {
        out[i] = catalog_support::CATALOG[i].0;
        i += 1;
    }
    out
};

/// Runs `check` on `cases` generated inputs, with one written catalog shared by all of them.
fn run<S: Strategy>(
    cases: u32,
    strategy: S,
    check: impl Fn(&Path, &CatalogFiles, S::Value) -> Result<(), TestCaseError>,
) {
    let dir = tempfile::tempdir().unwrap();
    let files = catalog(dir.path());
    let scratch = tempfile::tempdir().unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        ..ProptestConfig::default()
    });
    if let Err(e) = runner.run(&strategy, |v| check(scratch.path(), &files, v)) {
        panic!("{e}");
    }
}

/// Truncating any catalog file anywhere: an error naming it and the offset of the cut block, or
/// (at a block boundary) a catalog with fewer rows. Never a panic.
#[test]
fn truncation_anywhere() {
    run(
        96,
        (0usize..43, 0.0f64..1.0),
        |scratch, files, (which, frac)| {
            let oid = Oid(OIDS[which]);
            let full = std::fs::read(&files[&oid]).unwrap();
            // bias towards the interesting start of the file
            let len = ((full.len() as f64) * frac * frac) as usize;
            let (files, path) = replaced(files, oid, &full[..len], scratch);
            match read_catalog(&files, &starts(), Access::Read) {
                Err(err) => {
                    prop_assert!(!len.is_multiple_of(BLOCK));
                    assert_truncation(&err, &path, len);
                }
                Ok(_) => prop_assert_eq!(len % BLOCK, 0),
            }
            Ok(())
        },
    );
}

/// Random bytes in place of a catalog file: never a panic; whole blocks always read.
#[test]
fn random_file_contents() {
    let strategy = (0usize..43, 0usize..3, 0usize..2, any::<u64>());
    run(
        64,
        strategy,
        |scratch, files, (which, blocks, tail, seed)| {
            let oid = Oid(OIDS[which]);
            let mut rng = emfixtures::rng::Rng::new(seed);
            let bytes: Vec<u8> = (0..blocks * BLOCK + tail * 77)
                .map(|_| (rng.next_u64() >> 24) as u8)
                .collect();
            let (files, path) = replaced(files, oid, &bytes, scratch);
            match read_catalog(&files, &starts(), Access::Read) {
                Ok(cat) => {
                    prop_assert_eq!(tail, 0);
                    prop_assert!(cat.problems.len() <= emengine::catalog::reader::MAX_PROBLEMS + 1);
                }
                Err(err) => {
                    prop_assert_eq!(err.path(), Some(path.as_path()));
                    prop_assert!(err.offset().is_some());
                }
            }
            let ext = starts()
                .into_iter()
                .map(|(o, s)| (o, vec![DictExtent::single(s, 8192)]))
                .collect();
            let _ = check_token_lbids(&files, &ext, Access::Read);
            let _ = infer_dict_starts(&files, &BTreeMap::new(), Access::Read);
            Ok(())
        },
    );
}

/// Flipped bytes in the first blocks of any catalog file: never a panic; every problem names a file
/// and a byte offset.
#[test]
fn flipped_bytes() {
    let strategy = (
        0usize..43,
        proptest::collection::vec((0usize..2 * BLOCK, any::<u8>()), 1..16),
    );
    run(96, strategy, |scratch, files, (which, flips)| {
        let oid = Oid(OIDS[which]);
        let mut bytes = std::fs::read(&files[&oid]).unwrap();
        for (at, x) in flips {
            let at = at % bytes.len();
            bytes[at] ^= x | 1;
        }
        let (files, _) = replaced(files, oid, &bytes, scratch);
        let cat = read_catalog(&files, &starts(), Access::Read).unwrap();
        for p in &cat.problems {
            prop_assert!(p.contains(": at byte "), "problem without an offset: {}", p);
            prop_assert!(p.contains(".cdf"), "problem without a file: {}", p);
        }
        Ok(())
    });
}
