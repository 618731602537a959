//! The catalog of a tree made by the fixture generator (`emfixtures`) reads back as its manifest says.

use emengine::seg::file::Access;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use emengine::catalog::locate::catalog_files_in;
use emengine::catalog::reader::{read_catalog, Catalog, CatalogFiles};
use emengine::catalog::syscat::{syscat_layout, Generation};
use emengine::catalog::tokens::{check_token_lbids, consistent_generations, DictExtent};
use emengine::progress::NoProgress;
use emengine::types::{Lbid, Oid};
use emfixtures::manifest::Manifest;
use emfixtures::model::Fate;
use emfixtures::{generate, GenOptions, Scenario};

fn abs(out: &Path, p: &str) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        out.join(p)
    }
}

fn generated(
    scenario: Scenario,
    seed: u64,
    logical_bytes: u64,
) -> (tempfile::TempDir, Manifest, CatalogFiles, Catalog) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tree");
    let opts = GenOptions {
        seed,
        logical_bytes,
        scenario,
        threads: Some(2),
    };
    let manifest = generate(&out, &opts, &NoProgress).unwrap();
    let files: CatalogFiles = manifest
        .catalog
        .files
        .iter()
        .map(|f| (Oid(f.oid), abs(&out, &f.path)))
        .collect();
    let starts: BTreeMap<Oid, Lbid> = manifest
        .catalog
        .files
        .iter()
        .filter(|f| f.width == 0)
        .map(|f| (Oid(f.oid), Lbid(f.lbid)))
        .collect();
    let cat = read_catalog(&files, &starts, Access::Read).unwrap();
    (dir, manifest, files, cat)
}

fn check(scenario: Scenario, seed: u64, logical_bytes: u64) {
    let (dir, m, files, cat) = generated(scenario, seed, logical_bytes);
    let label = format!("{scenario:?} seed {seed} in {}", dir.path().display());
    assert_eq!(cat.problems, Vec::<String>::new(), "{label}");
    assert_eq!(
        format!("{:?}", cat.generation),
        format!("{:?}", m.catalog.generation),
        "{label}"
    );

    // the replayed layout is the generator's (a fresh install, no upgrade)
    let present = files.keys().copied().collect();
    let replayed: BTreeMap<i32, i64> = syscat_layout(&present)
        .into_iter()
        .map(|e| (e.oid.0, e.lbid.0))
        .collect();
    let manifest_lbids: BTreeMap<i32, i64> =
        m.catalog.files.iter().map(|f| (f.oid, f.lbid)).collect();
    assert_eq!(replayed, manifest_lbids, "{label}");
    assert!(
        consistent_generations(&files, Access::Read)
            .unwrap()
            .contains(&cat.generation),
        "{label}"
    );
    let extents = m
        .catalog
        .files
        .iter()
        .filter(|f| f.width == 0)
        .map(|f| (Oid(f.oid), vec![DictExtent::single(Lbid(f.lbid), 8192)]))
        .collect();
    assert_eq!(
        check_token_lbids(&files, &extents, Access::Read).unwrap(),
        vec![],
        "{label}"
    );

    // the catalog files are where dbbuilder puts them: DBRoot 1, partition 0, segment 0
    let dbroot1 = m
        .dbroots
        .iter()
        .find(|d| d.id == 1)
        .map(|d| abs(&dir.path().join("tree"), &d.path));
    if let Some(root) = dbroot1 {
        assert_eq!(catalog_files_in(&root), files, "{label}");
    }

    // live tables and their columns, as the manifest lists them
    let live: Vec<_> = m.tables.iter().filter(|t| t.fate == Fate::Live).collect();
    assert_eq!(cat.tables.len(), live.len(), "{label}");
    assert_eq!(m.catalog.live_systable_rows, live.len(), "{label}");
    assert_eq!(
        m.catalog.live_syscolumn_rows,
        cat.columns().count(),
        "{label}"
    );
    for t in live {
        let got = cat
            .find_table(&t.schema, &t.name)
            .unwrap_or_else(|| panic!("{label}: table {}.{} missing", t.schema, t.name));
        assert_eq!(got.table_oid, Oid(t.table_oid), "{label}");
        assert_eq!(
            got.aux_oid,
            t.aux_oid.map(Oid),
            "{label}: {}.{}",
            t.schema,
            t.name
        );
        assert_eq!(got.columns.len(), t.columns.len(), "{label}");
        for (c, e) in got.columns.iter().zip(&t.columns) {
            let what = format!("{label}: {}", c.qualified_name());
            assert_eq!(c.name, e.name.as_str(), "{what}");
            assert_eq!(c.position as usize, e.position, "{what}");
            assert_eq!(c.oid, Oid(e.oid), "{what}");
            assert_eq!(c.dict_oid, e.dict_oid.map(Oid), "{what}");
            assert_eq!(c.data_type.code(), e.data_type_code, "{what}");
            assert_eq!(c.data_type.name(), e.data_type, "{what}");
            assert_eq!(c.column_length, e.column_length, "{what}");
            assert_eq!(c.storage_width, e.storage_width, "{what}");
            assert_eq!((c.scale, c.precision), (e.scale, e.precision), "{what}");
            assert_eq!(c.nullable, e.nullable, "{what}");
            assert_eq!(c.compression, e.compression.code(), "{what}");
            // charsetnum is stored only from generation C on (CAT §7.1)
            let stored_charset = if cat.generation == Generation::C {
                e.charsetnum
            } else {
                0
            };
            assert_eq!(c.charset, stored_charset, "{what}");
            assert_eq!(c.autoincrement, e.autoincrement, "{what}");
            assert_eq!(
                c.default_value
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .map(|s| s.into_owned()),
                e.default,
                "{what}"
            );
            let obj = cat.object(c.oid).unwrap();
            assert_eq!(obj.extent_width(), Some(e.storage_width), "{what}");
        }
        if let Some(aux) = t.aux_oid {
            let obj = cat.object(Oid(aux)).unwrap();
            assert_eq!(obj.extent_width(), Some(1), "{label}");
        }
    }
    // every user file's OID is one the catalog explains, with the manifest's width
    for f in &m.files {
        let dropped = m
            .tables
            .iter()
            .any(|t| t.fate == Fate::Dropped && format!("{}.{}", t.schema, t.name) == f.table);
        if dropped {
            continue;
        }
        let obj = cat
            .object(Oid(f.oid))
            .unwrap_or_else(|| panic!("{label}: no catalog object for {}", f.path));
        assert_eq!(obj.extent_width(), Some(f.width), "{label}: {}", f.path);
    }
}

#[test]
fn mixed_catalog_matches_the_manifest() {
    check(Scenario::Mixed, 1, 2 << 20);
    check(Scenario::Mixed, 2, 2 << 20);
}

#[test]
fn legacy_catalog_matches_the_manifest() {
    check(Scenario::Legacy, 3, 16 << 20);
}

#[test]
fn dictionary_heavy_catalog_matches_the_manifest() {
    check(Scenario::DictionaryHeavy, 4, 2 << 20);
}

#[test]
fn damaged_tree_catalog_matches_the_manifest() {
    check(Scenario::Damaged, 5, 2 << 20);
}
