//! The rebuild through StorageManager equals the rebuild of the plain tree, byte for byte, when
//! the objects are read from a `LocalStorage` folder and the cache, with journals applied; and
//! logical files that cannot be assembled are damaged files naming the object key and offset.

use emengine::config::ClusterConfig;
use emengine::em::EmVersion;
use emengine::progress::NoProgress;
use emengine::rebuild::{rebuild, RebuildOptions};
use emengine::seg::file::{Access, SegmentFile};
use emengine::sm::config::SmConfig;
use emengine::sm::metadata::MetadataFile;
use emengine::sm::{view, Storage};
use emengine::Error;
use emfixtures::storagemanager::{convert, SmLayout, SmLayoutOptions};
use emfixtures::{generate, GenOptions, Scenario};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

struct Trees {
    dir: tempfile::TempDir,
    dbroots: BTreeMap<emengine::types::DbRootId, PathBuf>,
    plain_map: Vec<u8>,
    originals: BTreeMap<PathBuf, Vec<u8>>,
    layout: SmLayout,
}

/// A generated tree, its plain rebuild, its StorageManager layout; then the plain DBRoots are
/// moved away so that nothing can be read from the logical paths themselves.
fn trees(seed: u64) -> Trees {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("t");
    let opts = GenOptions {
        seed,
        logical_bytes: 6 << 20,
        scenario: Scenario::Mixed,
        threads: Some(2),
    };
    generate(&plain, &opts, &NoProgress).unwrap();
    let cfg = ClusterConfig::read(&plain.join("Columnstore.xml")).unwrap();
    let ropts = RebuildOptions {
        dbroots: cfg.dbroots.clone(),
        ..RebuildOptions::default()
    };
    let rebuilt = rebuild(&ropts, &NoProgress).unwrap();
    assert!(
        rebuilt.report.is_clean(),
        "{:?}",
        rebuilt.report.damaged().collect::<Vec<_>>()
    );
    let plain_map = rebuilt.map.encode(EmVersion::V5);

    let layout = convert(
        &cfg.dbroots,
        &dir.path().join("sm"),
        &SmLayoutOptions {
            object_size: 256 << 10,
            seed,
        },
    )
    .unwrap();
    let mut originals = BTreeMap::new();
    for root in cfg.dbroots.values() {
        for e in walk(root) {
            originals.insert(e.clone(), std::fs::read(&e).unwrap());
        }
    }
    let moved = dir.path().join("moved");
    std::fs::create_dir(&moved).unwrap();
    for (id, root) in &cfg.dbroots {
        std::fs::rename(root, moved.join(id.0.to_string())).unwrap();
    }
    Trees {
        dir,
        dbroots: cfg.dbroots,
        plain_map,
        originals,
        layout,
    }
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn storage(cnf: &Path) -> Storage {
    Storage::open(SmConfig::read(cnf, &|_| None).unwrap()).unwrap()
}

#[test]
fn rebuild_through_local_storage_equals_the_plain_rebuild() {
    let t = trees(5);
    // The layout exercises every path: cache, backend, overwriting and extending journals.
    assert!(t.layout.objects > t.layout.files, "{:?}", t.layout);
    assert!(t.layout.cached > 0 && !t.layout.backend_objects.is_empty());
    assert!(t.layout.journals > t.layout.extending_journals);
    assert!(t.layout.extending_journals > 0);

    let sm = storage(&t.layout.cnf);
    // Every logical file reads back as the original bytes.
    for (path, bytes) in &t.originals {
        assert!(!path.exists());
        let got = sm.assemble(path).unwrap();
        assert!(got == *bytes, "{} differs", path.display());
    }
    // Segment files open from memory with the layout the original file has on disk.
    let moved = t.dir.path().join("moved");
    let mut scratch_a = emengine::seg::file::ChunkReader::new();
    let mut scratch_b = emengine::seg::file::ChunkReader::new();
    let found = sm.walk(&t.dbroots).files;
    assert!(!found.is_empty());
    for f in &found {
        let rel = f.path.strip_prefix(&t.dbroots[&f.dbroot]).unwrap();
        let on_disk = moved.join(f.dbroot.0.to_string()).join(rel);
        let disk = SegmentFile::open(&on_disk, Access::Read).unwrap();
        let mem = sm.open_segment(&f.path).unwrap();
        assert_eq!(mem.path(), f.path);
        assert_eq!(mem.layout(), disk.layout());
        assert!(
            mem.chunk_data(0, &mut scratch_a).unwrap()
                == disk.chunk_data(0, &mut scratch_b).unwrap()
        );
    }
    let opts = RebuildOptions {
        dbroots: t.dbroots.clone(),
        ..RebuildOptions::default()
    };
    let rebuilt = view::rebuild(&sm, &opts, &NoProgress).unwrap();
    assert!(
        rebuilt.report.is_clean(),
        "{:?}",
        rebuilt.report.damaged().collect::<Vec<_>>()
    );
    assert!(rebuilt.map.encode(EmVersion::V5) == t.plain_map);
    // Non-segment files (the BRM folder) are listed under their logical paths.
    for s in rebuilt.report.skipped() {
        assert!(
            t.dbroots.values().any(|r| s.path.starts_with(r)),
            "{}",
            s.path.display()
        );
    }
}

/// The first segment file's metadata path and its parsed objects.
fn first_segment(t: &Trees, sm: &Storage) -> (PathBuf, PathBuf, MetadataFile) {
    let walked = sm.walk(&t.dbroots);
    let f = walked
        .files
        .iter()
        .find(|f| {
            sm.metadata(&f.path)
                .map(|m| m.objects.len() > 1)
                .unwrap_or(false)
        })
        .expect("a file of several objects");
    let meta_path = sm.metadata_file(&f.path).unwrap();
    let meta = MetadataFile::parse(&std::fs::read(&meta_path).unwrap()).unwrap();
    (f.path.clone(), meta_path, meta)
}

fn object_file(t: &Trees, key: &str) -> PathBuf {
    let backend = t.dir.path().join("sm/fake-cloud").join(key);
    if backend.exists() {
        return backend;
    }
    let cached: Vec<PathBuf> = walk(&t.dir.path().join("sm/cache"))
        .into_iter()
        .filter(|p| p.file_name().unwrap() == key)
        .collect();
    cached[0].clone()
}

#[test]
fn damaged_logical_files_name_the_object() {
    let t = trees(9);
    let sm = storage(&t.layout.cnf);

    // A missing object: the logical file is damaged, the rest of the rebuild goes on.
    let (path, meta_path, meta) = first_segment(&t, &sm);
    let second = &meta.objects[1];
    let obj = object_file(&t, &second.key);
    let aside = t.dir.path().join("aside");
    std::fs::rename(&obj, &aside).unwrap();
    match sm.assemble(&path).unwrap_err() {
        Error::Object {
            path: p,
            key,
            offset,
            detail,
        } => {
            assert_eq!(p, path);
            assert_eq!(key, second.key);
            assert_eq!(offset, 256 << 10);
            assert!(
                detail.starts_with("missing: neither in the cache"),
                "{detail}"
            );
        }
        e => panic!("unexpected {e}"),
    }
    let opts = RebuildOptions {
        dbroots: t.dbroots.clone(),
        ..RebuildOptions::default()
    };
    let rebuilt = view::rebuild(&sm, &opts, &NoProgress).unwrap();
    let d: Vec<_> = rebuilt.report.damaged().collect();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].path, path);
    assert_eq!(d[0].offset, Some(256 << 10));
    assert!(d[0].detail.contains(&second.key), "{}", d[0].detail);
    std::fs::rename(&aside, &obj).unwrap();
    sm.assemble(&path).unwrap();

    // Overlapping objects.
    let mut overlapping = meta.clone();
    overlapping.objects[1].offset -= 1;
    std::fs::write(&meta_path, overlapping.to_json()).unwrap();
    let e = sm.assemble(&path).unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "object {} at offset {}",
            second.key,
            (256 << 10) - 1
        )) && e.contains(&format!("overlaps object {}", meta.objects[0].key)),
        "{e}"
    );
    // A gap.
    let mut gapped = meta.clone();
    gapped.objects[1].offset += 1;
    std::fs::write(&meta_path, gapped.to_json()).unwrap();
    let e = sm.assemble(&path).unwrap_err().to_string();
    assert!(
        e.contains("leaves a gap: the previous object ends at 262144"),
        "{e}"
    );
    // Bad JSON: a decode error at the byte.
    std::fs::write(&meta_path, b"{\"version\": \"1\", ").unwrap();
    match sm.assemble(&path).unwrap_err() {
        Error::Decode { path: p, source } => {
            assert_eq!(p, meta_path);
            assert_eq!(source.offset, 16);
        }
        e => panic!("unexpected {e}"),
    }
    // A metadata length larger than the object and its journal hold.
    let mut long = meta.clone();
    let last = long.objects.len() - 1;
    long.objects[last].length += 1 << 30;
    std::fs::write(&meta_path, long.to_json()).unwrap();
    let e = sm.assemble(&path).unwrap_err().to_string();
    assert!(e.contains("hold only"), "{e}");
    std::fs::write(&meta_path, meta.to_json()).unwrap();
    sm.assemble(&path).unwrap();
}

#[test]
fn journal_longer_than_its_header_says_is_refused() {
    let t = trees(11);
    let sm = storage(&t.layout.cnf);
    let journals = walk(&t.dir.path().join("sm/journal"));
    let jpath = &journals[0];
    let mut bytes = std::fs::read(jpath).unwrap();
    // max_offset "00000000000": every record now writes past it.
    bytes[37..48].copy_from_slice(b"00000000000");
    std::fs::write(jpath, &bytes).unwrap();
    let key = jpath
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .strip_suffix(".journal")
        .unwrap()
        .to_string();
    let walked = sm.walk(&t.dbroots);
    let hit = walked
        .files
        .iter()
        .find_map(|f| {
            let m = sm.metadata(&f.path).ok()?;
            m.objects
                .iter()
                .find(|o| o.key == key)
                .map(|o| (f.path.clone(), o.offset))
        })
        .or_else(|| {
            // The journal may belong to a non-segment file (the BRM folder).
            t.originals.keys().find_map(|p| {
                let m = sm.metadata(p).ok()?;
                m.objects
                    .iter()
                    .find(|o| o.key == key)
                    .map(|o| (p.clone(), o.offset))
            })
        })
        .expect("the journal's file");
    let e = sm.assemble(&hit.0).unwrap_err();
    assert_eq!(e.offset(), Some(hit.1));
    let msg = e.to_string();
    assert!(
        msg.contains(&key)
            && msg.contains("at byte 52: invalid journal record: expected a write ending at or before max_offset 0"),
        "{msg}"
    );
}

#[test]
fn logical_files_stream_from_their_objects_and_keep_nothing_once_read() {
    use emengine::seg::file::RangeSource;
    use emengine::sm::stream::{SmFile, KEPT_BYTES};
    let t = trees(13);
    let sm = storage(&t.layout.cnf);
    let mut several = 0;
    for (path, original) in &t.originals {
        let Ok(file) = SmFile::open(&sm, path) else {
            continue;
        };
        several += usize::from(sm.metadata(path).unwrap().objects.len() > 1);
        assert_eq!(file.len(), original.len() as u64);
        // Everything announced at once: fetched ahead on another thread, within the budget.
        file.will_need(0..file.len());
        assert!(file.kept().1 <= KEPT_BYTES);
        // Read back in pieces that straddle object boundaries (objects are 256 KiB).
        let mut back = vec![0u8; original.len()];
        for (i, piece) in back.chunks_mut(100_000).enumerate() {
            file.read_at(i as u64 * 100_000, piece).unwrap();
        }
        assert!(back == *original, "{} differs", path.display());
        file.done_with(0..file.len());
        assert_eq!(file.kept(), (0, 0), "{}", path.display());
    }
    assert!(several > 0);
}
