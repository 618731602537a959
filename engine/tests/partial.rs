//! A node's partial (`emengine::rebuild::partial`): writer → reader round trips over arbitrary
//! facts (proptest), and corrupt partials refused with the byte offset the layout table of the
//! module names for each field — never a panic.

use emengine::error::{DecodeKind, ErrorKind};
use emengine::finding::{Damaged, Skipped, UnresolvedReason};
use emengine::rebuild::evidence::{DictEvidence, PackedEvidence, TokenUse};
use emengine::rebuild::facts::{
    CarriedError, CatalogPart, CatalogRead, Facts, Lz4Bytes, UnplannedFact,
};
use emengine::rebuild::kind::{KindSource, ObjectKind, StringCp};
use emengine::rebuild::partial::{encode, parse, DbRootEntry, PartialBody, TOOL_VERSION};
use emengine::rebuild::plan::FileFacts;
use emengine::rebuild::stats::{Domain, ExtentStats};
use emengine::rebuild::walk::FoundFile;
use emengine::seg::datatype::ColDataType;
use emengine::seg::path::NotSegmentPath;
use emengine::types::{DbRootId, Oid, SegmentId};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Any path, UTF-8 or not.
fn path() -> impl Strategy<Value = PathBuf> {
    prop::collection::vec(any::<u8>(), 0..24).prop_map(|b| PathBuf::from(OsStr::from_bytes(&b)))
}

fn found() -> impl Strategy<Value = FoundFile> {
    (
        any::<u16>(),
        any::<i32>(),
        any::<u32>(),
        any::<u16>(),
        path(),
    )
        .prop_map(|(dbroot, oid, partition, segment, path)| FoundFile {
            dbroot: DbRootId(dbroot),
            id: SegmentId {
                oid: Oid(oid),
                partition,
                segment,
            },
            path,
        })
}

fn kind() -> impl Strategy<Value = ObjectKind> {
    prop_oneof![
        Just(ObjectKind::Dictionary),
        (
            prop::sample::select(ColDataType::ALL),
            prop::sample::select(&[1u16, 2, 4, 8, 16][..])
        )
            .prop_map(|(data_type, width)| ObjectKind::Column { data_type, width }),
    ]
}

fn file_facts() -> impl Strategy<Value = FileFacts> {
    (
        found(),
        kind(),
        prop::sample::select(
            &[
                KindSource::Header,
                KindSource::SystemCatalog,
                KindSource::Catalog,
            ][..],
        ),
        prop::collection::vec(any::<i64>(), 0..4),
        prop::sample::select(
            &[
                Domain::Signed,
                Domain::Unsigned,
                Domain::Binary,
                Domain::None,
            ][..],
        ),
        any::<bool>(),
        any::<u64>(),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                found,
                kind,
                source,
                header_lbids,
                domain,
                compressed,
                allocated_blocks,
                chunk_count,
                tokens,
            )| {
                FileFacts {
                    tokens,
                    found,
                    kind,
                    source,
                    header_lbids,
                    domain,
                    compressed,
                    allocated_blocks,
                    chunk_count,
                }
            },
        )
}

fn stats() -> impl Strategy<Value = ExtentStats> {
    (
        (any::<Option<u32>>(), any::<Option<u64>>()),
        any::<u64>(),
        any::<u64>(),
        any::<Option<(u64, u64)>>(),
        any::<Option<(i128, i128)>>(),
    )
        .prop_map(
            |((last_nonempty, last_row), values, nulls, keys, wide)| ExtentStats {
                last_nonempty,
                last_row,
                values,
                nulls,
                keys,
                wide,
            },
        )
}

fn damaged() -> impl Strategy<Value = Damaged> {
    (
        path(),
        prop::sample::select(&[ErrorKind::Io, ErrorKind::Truncated, ErrorKind::BadChecksum][..]),
        any::<Option<u64>>(),
        ".*",
    )
        .prop_map(|(path, error, offset, detail)| Damaged {
            path,
            error,
            offset,
            detail,
        })
}

fn catalog() -> impl Strategy<Value = CatalogPart> {
    let read = (
        path(),
        prop::collection::vec(any::<u8>(), 0..300),
        any::<bool>(),
        any::<Option<u64>>(),
        ".*",
    )
        .prop_map(|(path, mut bytes, failed, offset, detail)| {
            // Catalog files are mostly zeros: long runs exercise the compression.
            bytes.resize(bytes.len() * 8, 0);
            CatalogRead {
                path,
                bytes: if failed {
                    Err(CarriedError {
                        kind: ErrorKind::Truncated,
                        offset,
                        detail,
                    })
                } else {
                    Ok(Lz4Bytes::pack(&bytes))
                },
            }
        });
    prop::collection::vec(read, 0..4).prop_map(|reads| CatalogPart { reads })
}

/// Token evidence of a dictionary file (`file` indexes the facts' files).
fn evidence() -> impl Strategy<Value = DictEvidence> {
    (
        0usize..4,
        found(),
        prop::collection::vec(any::<i32>(), 0..3),
        // String counts in runs (evidence travels as runs of equal counts), up to one extent's
        // 8192 blocks; token blocks in runs of consecutive LBIDs, at the ends of i64 too.
        prop::collection::vec(
            prop::collection::vec(prop_oneof![Just(0u16), 1u16..3, any::<u16>()], 0..40).prop_map(
                |mut v| {
                    if v.len() % 7 == 3 {
                        v.resize(8192, 0);
                    }
                    v
                },
            ),
            0..3,
        ),
        prop::collection::btree_map(
            prop_oneof![
                any::<i64>(),
                0i64..40,
                i64::MAX - 3..=i64::MAX,
                i64::MIN..i64::MIN + 3
            ],
            (any::<u16>(), any::<u64>()),
            0..12,
        ),
        any::<u64>(),
    )
        .prop_map(
            |(file, found, columns, counts, tokens, malformed)| DictEvidence {
                file,
                dict: found.id,
                dbroot: found.dbroot,
                columns: columns.into_iter().map(Oid).collect(),
                counts,
                tokens: tokens
                    .into_iter()
                    .map(|(l, (max_op, tokens))| (l, TokenUse { max_op, tokens }))
                    .collect(),
                malformed,
            },
        )
}

fn facts() -> impl Strategy<Value = Facts> {
    (
        prop::collection::vec(file_facts(), 0..4),
        prop::collection::btree_map((0usize..4, any::<u32>()), stats(), 0..4),
        prop::collection::btree_set((0usize..4, any::<u32>()), 0..3),
        any::<u64>(),
        prop::collection::btree_map(
            any::<u16>(),
            prop::collection::vec((path(), ".*"), 0..3),
            0..3,
        ),
        prop::collection::vec(damaged(), 0..3),
        prop::collection::vec((found(), any::<bool>(), damaged()), 0..3),
        (
            catalog(),
            prop::collection::vec(evidence(), 0..3),
            prop::collection::vec(prop::collection::btree_set(any::<u16>(), 0..3), 0..3),
            prop::collection::btree_map((0usize..4, any::<u32>()), 0u32..512, 0..3),
            prop::collection::vec(evidence(), 0..3),
        ),
    )
        .prop_map(
            |(
                files,
                stats,
                chunks,
                bytes,
                skipped,
                damaged,
                unplanned,
                (catalog, evidence, machines, short, packed),
            )| Facts {
                found: files.iter().map(|f| f.found.clone()).collect(),
                files,
                scan: emengine::rebuild::scan::ScanFacts {
                    errors: chunks
                        .iter()
                        .zip(&damaged)
                        .map(|(&(i, _), d)| (i, d.clone()))
                        .collect(),
                    stats,
                    damaged: chunks,
                    short,
                    bytes,
                },
                skipped: skipped
                    .into_iter()
                    .map(|(id, list)| {
                        let list = list
                            .into_iter()
                            .map(|(path, name)| Skipped {
                                path,
                                reason: NotSegmentPath::NotFileName { name },
                            })
                            .collect();
                        (DbRootId(id), list)
                    })
                    .collect(),
                walk_damaged: BTreeMap::from([(DbRootId(1), damaged)]),
                unplanned: unplanned
                    .into_iter()
                    .map(|(found, resolved, damaged)| UnplannedFact {
                        found,
                        outcome: if resolved {
                            Ok(UnresolvedReason::OldHeaderNoCatalogRow { header_version: 2 })
                        } else {
                            Err(damaged)
                        },
                    })
                    .collect(),
                catalog,
                evidence,
                packed_evidence: packed.iter().map(PackedEvidence::pack).collect(),
                machines: machines
                    .into_iter()
                    .map(|m| m.into_iter().map(DbRootId).collect())
                    .collect(),
            },
        )
}

fn body() -> impl Strategy<Value = PartialBody> {
    (
        ".*",
        prop::collection::vec((any::<u16>(), path()), 0..4),
        any::<bool>(),
        any::<[u8; 32]>(),
        facts(),
    )
        .prop_map(|(node, dbroots, binary, planned_with, facts)| PartialBody {
            node,
            dbroots: dbroots
                .into_iter()
                .map(|(id, path)| DbRootEntry {
                    id: DbRootId(id),
                    path,
                })
                .collect(),
            string_cp: if binary {
                StringCp::Binary
            } else {
                StringCp::Invalid
            },
            planned_with,
            facts,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn what_is_written_reads_back_the_same(body in body(), tool in "[ -~]{0,40}") {
        let bytes = encode(&body, &tool);
        let back = parse(&bytes).unwrap();
        prop_assert_eq!(back.tool_version, tool);
        prop_assert_eq!(back.body, body);
    }

    #[test]
    fn any_changed_byte_is_refused_and_never_panics(body in body(), at in any::<prop::sample::Index>(), xor in 1u8..) {
        let mut bytes = encode(&body, TOOL_VERSION);
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        // A changed tool version still reads (assemble refuses it); everything else is an error.
        let tool = 14..14 + TOOL_VERSION.len();
        match parse(&bytes) {
            Ok(p) => prop_assert!(tool.contains(&i) && p.tool_version != TOOL_VERSION, "byte {i} changed, still read"),
            Err(e) => prop_assert!(e.offset <= bytes.len() as u64),
        }
    }
}

/// A small partial with one of everything.
fn sample() -> PartialBody {
    let found = FoundFile {
        dbroot: DbRootId(2),
        id: SegmentId {
            oid: Oid(3001),
            partition: 0,
            segment: 1,
        },
        path: PathBuf::from("/data2/000.dir/000.dir/011.dir/185.dir/000.dir/FILE001.cdf"),
    };
    let file = FileFacts {
        found: found.clone(),
        kind: ObjectKind::Column {
            data_type: ColDataType::Int,
            width: 4,
        },
        source: KindSource::Header,
        header_lbids: vec![235520],
        domain: Domain::Signed,
        compressed: true,
        allocated_blocks: 8192,
        chunk_count: 16,
        tokens: false,
    };
    PartialBody {
        node: "pm2".into(),
        dbroots: vec![DbRootEntry {
            id: DbRootId(2),
            path: "/data2".into(),
        }],
        string_cp: StringCp::Invalid,
        planned_with: [7; 32],
        facts: Facts {
            found: vec![found],
            files: vec![file],
            scan: emengine::rebuild::scan::ScanFacts {
                stats: BTreeMap::from([((0, 0), ExtentStats::default())]),
                bytes: 64 << 20,
                ..Default::default()
            },
            ..Facts::default()
        },
    }
}

/// Offsets of the layout table for the 5-byte tool version "0.1.0": magic 0, format version 8,
/// tool-version length 12, tool version 14, body length 19, digest 27, body 59.
const BODY_AT: u64 = 59;

#[test]
fn the_header_is_laid_out_as_the_table_says() {
    let bytes = encode(&sample(), "0.1.0");
    assert_eq!(&bytes[0..8], b"EMRBPART");
    assert_eq!(bytes[8..12], [3, 0, 0, 0]);
    assert_eq!(bytes[12..14], [5, 0]);
    assert_eq!(&bytes[14..19], b"0.1.0");
    let len = u64::from_le_bytes(bytes[19..27].try_into().unwrap());
    assert_eq!(len, bytes.len() as u64 - BODY_AT);
    assert_eq!(&bytes[27..59], blake3::hash(&bytes[59..]).as_bytes());
}

#[test]
fn every_truncation_is_refused_at_the_field_it_cuts() {
    let bytes = encode(&sample(), "0.1.0");
    for cut in 0..bytes.len() {
        let e = parse(&bytes[..cut]).expect_err("a truncated partial is refused");
        let field_at = match cut {
            0..=7 => 0,
            8..=11 => 8,
            12..=13 => 12,
            14..=18 => 14,
            19..=26 => 19,
            27..=58 => 27,
            _ => BODY_AT,
        };
        assert!(
            matches!(e.kind, DecodeKind::Truncated { .. }),
            "cut at {cut}: {e}"
        );
        assert_eq!(e.offset, field_at, "cut at {cut}: {e}");
    }
}

#[test]
fn a_bad_magic_an_other_format_version_and_trailing_bytes_are_named() {
    let good = encode(&sample(), "0.1.0");

    let mut bytes = good.clone();
    bytes[0] = b'X';
    let e = parse(&bytes).unwrap_err();
    assert!(matches!(e.kind, DecodeKind::BadMagic { .. }), "{e}");
    assert_eq!(e.offset, 0);

    let mut bytes = good.clone();
    bytes[8] = 2; // the format before every claiming dictionary carried its evidence
    let e = parse(&bytes).unwrap_err();
    assert_eq!(e.offset, 8);
    assert_eq!(
        e.to_string(),
        "at byte 8: invalid format version: expected 3 (the version this emrebuild reads), \
         found 2 (an older emrebuild's: scan the node again with this one)"
    );
    bytes[8] = 4;
    assert!(
        parse(&bytes)
            .unwrap_err()
            .to_string()
            .ends_with("found 4 (a newer emrebuild's)"),
        "a format this emrebuild does not know is named as newer"
    );

    let mut bytes = good.clone();
    bytes.push(0);
    let e = parse(&bytes).unwrap_err();
    assert_eq!(e.offset, good.len() as u64);
    assert!(e.to_string().contains("1 more bytes"), "{e}");
}

#[test]
fn a_changed_body_byte_is_a_digest_mismatch_at_the_body() {
    let good = encode(&sample(), "0.1.0");
    for at in [BODY_AT as usize, good.len() / 2 + 30, good.len() - 1] {
        let mut bytes = good.clone();
        bytes[at] ^= 0x01;
        let e = parse(&bytes).unwrap_err();
        assert_eq!(e.offset, BODY_AT, "{e}");
        assert!(
            e.to_string().contains("invalid body digest (blake3)"),
            "{e}"
        );
    }
}

#[test]
fn a_body_that_is_not_the_facts_is_refused_inside_the_body() {
    use emengine::fuzzing::wrap_partial_body;
    // A valid header and digest around a body that is not an LZ4 block.
    for body in [&b""[..], b"\x01\x02", b"\xff\xff\xff\xff\x00"] {
        let e = parse(&wrap_partial_body(body)).unwrap_err();
        assert!(matches!(e.kind, DecodeKind::Decompress { .. }), "{e}");
    }
    // An LZ4 block claiming more than LZ4 can expand to: refused before allocating.
    let e = parse(&wrap_partial_body(b"\xff\xff\xff\x7f\x00\x00")).unwrap_err();
    assert!(
        e.to_string()
            .contains("claim 2147483647 bytes uncompressed"),
        "{e}"
    );
    // LZ4 of bytes that are not CBOR of the facts.
    for cbor in [&b""[..], b"\xff", b"\x01\x02\x03", b"\xa1\x61x\x00"] {
        let body = lz4_flex::compress_prepend_size(cbor);
        let e = parse(&wrap_partial_body(&body)).unwrap_err();
        assert!(e.offset >= BODY_AT, "{e}");
        assert!(e.to_string().contains("invalid body"), "{e}");
    }
}

#[test]
fn a_written_partial_is_read_back_from_its_file_and_errors_name_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node2.partial");
    let written = emengine::rebuild::partial::write(&path, &sample()).unwrap();
    assert_eq!(written, std::fs::metadata(&path).unwrap().len());
    let back = emengine::rebuild::partial::read(&path).unwrap();
    assert_eq!(back.body, sample());
    assert_eq!(back.tool_version, TOOL_VERSION);

    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(10);
    std::fs::write(&path, &bytes).unwrap();
    let e = emengine::rebuild::partial::read(&path).unwrap_err();
    assert_eq!(e.path(), Some(path.as_path()));
    assert_eq!(e.offset(), Some(8));
}

/// Partials for `assemble`: node 1 holds the catalog (one file), node 2 was planned with it.
fn two_nodes() -> Vec<(PathBuf, emengine::rebuild::partial::Partial)> {
    use emengine::rebuild::partial::{catalog_digest, Partial};
    let catalog = CatalogPart {
        reads: vec![CatalogRead {
            path: "/data1/000.dir/000.dir/003.dir/233.dir/000.dir/FILE000.cdf".into(),
            bytes: Ok(Lz4Bytes::pack(&[0; 8192])),
        }],
    };
    let mut n1 = sample();
    n1.dbroots[0] = DbRootEntry {
        id: DbRootId(1),
        path: "/data1".into(),
    };
    n1.facts.files[0].found.dbroot = DbRootId(1);
    n1.facts.found[0].dbroot = DbRootId(1);
    n1.facts.catalog = catalog.clone();
    n1.planned_with = catalog_digest(&catalog);
    let mut n2 = sample();
    n2.planned_with = catalog_digest(&catalog);
    [("n1.partial", n1), ("n2.partial", n2)]
        .into_iter()
        .map(|(name, body)| {
            let p = Partial {
                tool_version: TOOL_VERSION.into(),
                body,
            };
            (PathBuf::from(name), p)
        })
        .collect()
}

fn ids(list: &[u16]) -> std::collections::BTreeSet<DbRootId> {
    list.iter().map(|&i| DbRootId(i)).collect()
}

#[test]
fn assemble_merges_fitting_partials_in_one_walks_order() {
    use emengine::rebuild::partial::assemble;
    let mut parts = two_nodes();
    parts.reverse(); // the order partials are given in does not matter
    let facts = assemble(parts, &ids(&[1, 2])).unwrap();
    assert_eq!(facts.files.len(), 2);
    assert_eq!(facts.catalog, two_nodes()[0].1.body.facts.catalog);
    // Both nodes' file is oid 3001 segment 1, on DBRoot 1 and on DBRoot 2: sorted by
    // (identity, DBRoot) as one walk sorts them, with the scan's file index following.
    let dbroots: Vec<u16> = facts.files.iter().map(|f| f.found.dbroot.0).collect();
    assert_eq!(dbroots, [1, 2]);
    let keys: Vec<(usize, u32)> = facts.scan.stats.keys().copied().collect();
    assert_eq!(keys, [(0, 0), (1, 0)]);
    assert_eq!(facts.scan.bytes, 2 * (64 << 20));
}

#[test]
fn assemble_refuses_partials_that_do_not_fit() {
    use emengine::rebuild::partial::{assemble, AssembleError};
    let err = |parts, dbroots: &[u16]| assemble(parts, &ids(dbroots)).unwrap_err();

    // Planned with other catalog facts (e.g. scanned without --catalog: no kinds).
    let mut parts = two_nodes();
    parts[1].1.body.planned_with =
        emengine::rebuild::partial::catalog_digest(&CatalogPart::default());
    assert_eq!(
        err(parts, &[1, 2]),
        AssembleError::OtherCatalog {
            path: "n2.partial".into(),
            catalog: "n1.partial".into()
        }
    );

    // Catalog files in two partials.
    let mut parts = two_nodes();
    parts[1].1.body.facts.catalog = parts[0].1.body.facts.catalog.clone();
    assert!(matches!(
        err(parts, &[1, 2]),
        AssembleError::TwoCatalogs { .. }
    ));

    // A DBRoot the configuration does not name.
    assert_eq!(
        err(two_nodes(), &[1]),
        AssembleError::UnknownDbRoot {
            path: "n2.partial".into(),
            dbroot: DbRootId(2)
        }
    );

    // A DBRoot of the configuration that no partial covers.
    assert_eq!(
        err(two_nodes(), &[1, 2, 3]),
        AssembleError::MissingDbRoot {
            dbroot: DbRootId(3)
        }
    );

    // Different --string-cp settings decide different domains.
    let mut parts = two_nodes();
    parts[1].1.body.string_cp = StringCp::Binary;
    assert!(matches!(
        err(parts, &[1, 2]),
        AssembleError::StringCp { .. }
    ));

    // Another tool version.
    let mut parts = two_nodes();
    parts[0].1.tool_version = "0.0.1".into();
    let e = err(parts, &[1, 2]);
    assert_eq!(
        e.to_string(),
        format!("n1.partial: written by emrebuild 0.0.1, this is emrebuild {TOOL_VERSION}: scan the node again with this version")
    );
}

/// One partial per DBRoot of a generated tree — scanned alone (the catalog-less ones with the
/// catalog part of DBRoot 1's), written, read back and assembled — gives the map and the report
/// the rebuild of every DBRoot at once gives, for every scenario (dictionary-heavy is only
/// covered here; the CLI tests split mixed, legacy and damaged trees over nodes).
#[test]
fn per_dbroot_partials_assemble_to_the_single_rebuild_in_every_scenario() {
    use emengine::em::EmVersion;
    use emengine::progress::NoProgress;
    use emengine::rebuild::facts::finish;
    use emengine::rebuild::partial::{assemble, catalog_digest};
    use emengine::rebuild::{rebuild, scan_facts, RebuildOptions};
    use emfixtures::{GenOptions, Scenario};
    for scenario in [Scenario::DictionaryHeavy, Scenario::Legacy] {
        let tmp = tempfile::tempdir().unwrap();
        let tree = tmp.path().join("tree");
        let opts = GenOptions {
            seed: 11,
            logical_bytes: 2 << 20,
            scenario,
            threads: Some(1),
        };
        emfixtures::generate(&tree, &opts, &NoProgress).unwrap();
        let config = emengine::config::ClusterConfig::read(&tree.join("Columnstore.xml")).unwrap();
        assert!(config.dbroots.len() >= 2, "{scenario:?}: one DBRoot only");
        let all = RebuildOptions {
            dbroots: config.dbroots.clone(),
            ..RebuildOptions::default()
        };
        let one = rebuild(&all, &NoProgress).unwrap();

        let mut partials = Vec::new();
        let mut primary = None;
        for (&id, path) in &config.dbroots {
            let node = RebuildOptions {
                dbroots: BTreeMap::from([(id, path.clone())]),
                ..RebuildOptions::default()
            };
            let external = primary
                .as_ref()
                .map(|(c, f): &(CatalogPart, Vec<_>)| (c, f.as_slice()));
            let facts = scan_facts(&node, external, &NoProgress).unwrap();
            if id == DbRootId(1) {
                primary = Some((facts.catalog.clone(), facts.found.clone()));
            }
            let body = PartialBody {
                node: format!("node{id}"),
                dbroots: vec![DbRootEntry {
                    id,
                    path: path.clone(),
                }],
                string_cp: StringCp::Invalid,
                planned_with: catalog_digest(&primary.as_ref().unwrap().0),
                facts,
            };
            let read = parse(&encode(&body, TOOL_VERSION)).unwrap();
            partials.push((PathBuf::from(format!("node{id}.partial")), read));
        }
        let ids = config.dbroots.keys().copied().collect();
        let assembled = finish(
            assemble(partials, &ids).unwrap(),
            &RebuildOptions::default(),
        )
        .unwrap();
        assert_eq!(
            assembled.map.encode(EmVersion::V5),
            one.map.encode(EmVersion::V5),
            "{scenario:?}"
        );
        assert_eq!(
            assembled.report.findings, one.report.findings,
            "{scenario:?}"
        );
        assert_eq!(assembled.report.extents, one.report.extents);
        assert_eq!(assembled.report.bytes_scanned, one.report.bytes_scanned);
    }
}
