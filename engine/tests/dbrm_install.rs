//! Installing a map into a DBRM folder: the files ColumnStore loads afterwards, resumption after
//! an interruption at every step, and a damaged staged copy refused.

use emengine::dbrm::current::{Current, Slot};
use emengine::dbrm::install::{self, map_files, Step, INTENT_NAME};
use emengine::dbrm::DbrmFolder;
use proptest::prelude::*;
use std::fs;
use std::path::Path;

fn folder(dir: &Path) -> DbrmFolder {
    DbrmFolder::from_prefix(&dir.join("BRM_saves")).unwrap()
}

/// A folder as a worker snapshot leaves it: `_current` naming A, a journal with one record.
fn lay_out(dir: &Path) {
    fs::write(dir.join("BRM_saves_current"), b"BRM_savesA\n").unwrap();
    fs::write(dir.join("BRM_savesA_em"), b"A map").unwrap();
    fs::write(dir.join("BRM_saves_em"), b"old base map").unwrap();
    fs::write(dir.join("BRM_saves_journal"), [1, 0, 0, 0, 17]).unwrap();
    fs::write(
        dir.join("BRM_saves_vbbm"),
        [0x7a, 0x8c, 0xb5, 0x1f, 0, 0, 0, 0, 1, 0, 0, 0],
    )
    .unwrap();
}

fn assert_installed(dir: &Path, em: &[u8]) {
    assert_eq!(
        fs::read(dir.join("BRM_saves_current")).unwrap(),
        b"BRM_saves\n"
    );
    assert_eq!(fs::read(dir.join("BRM_saves_em")).unwrap(), em);
    assert_eq!(fs::read(dir.join("BRM_saves_journal")).unwrap(), b"");
    assert_eq!(
        fs::read(dir.join("BRM_saves_vbbm")).unwrap(),
        [0x7a, 0x8c, 0xb5, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        fs::read(dir.join("BRM_saves_vss")).unwrap(),
        [0x12, 0xdb, 0x18, 0x72, 0, 0, 0, 0]
    );
    assert_eq!(fs::read(dir.join("BRM_savesA_em")).unwrap(), b"A map");
    assert!(!dir.join(INTENT_NAME).exists());
}

fn kept(dir: &Path) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".bad-T"))
        .map(|p| fs::read(p).unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn the_plan_moves_aside_what_exists_and_puts_current_last() {
    let tmp = tempfile::tempdir().unwrap();
    lay_out(tmp.path());
    let f = folder(tmp.path());
    let plan = install::plan(&f, "test", map_files(&f, b"new".to_vec(), None), "T", None).unwrap();
    let names: Vec<String> = plan
        .steps
        .iter()
        .map(|s| match s {
            Step::Stage { .. } => "stage".into(),
            Step::WriteIntent { .. } => "intent".into(),
            Step::MoveAside { to, .. } => {
                format!("aside {}", to.file_name().unwrap().to_string_lossy())
            }
            Step::Put { to, .. } => format!("put {}", to.file_name().unwrap().to_string_lossy()),
            Step::Finish { .. } => "finish".into(),
        })
        .collect();
    assert_eq!(
        names,
        [
            "stage",
            "intent",
            "aside BRM_saves_em.bad-T",
            "put BRM_saves_em",
            "aside BRM_saves_vbbm.bad-T",
            "put BRM_saves_vbbm",
            "put BRM_saves_vss",
            "aside BRM_saves_journal.bad-T",
            "put BRM_saves_journal",
            "aside BRM_saves_current.bad-T",
            "put BRM_saves_current",
            "finish"
        ]
    );
}

#[test]
fn an_install_stopped_after_any_step_is_finished_by_resume() {
    let steps = 12;
    for k in 1..=steps {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        lay_out(dir);
        let f = folder(dir);
        let plan = install::plan(
            &f,
            "test",
            map_files(&f, b"new map".to_vec(), None),
            "T",
            None,
        )
        .unwrap();
        assert_eq!(plan.steps.len(), steps);
        let err = install::apply(&f, &plan, Some(k)).unwrap_err();
        assert!(err.to_string().contains(&format!("step {k}")), "{err}");
        match install::pending(&f).unwrap() {
            Some(intent) => {
                install::resume(&f, &intent, None).unwrap();
            }
            None if k == steps => {}
            None => {
                // Stopped before the intent: nothing in use changed, and a new install runs.
                assert_eq!(
                    fs::read(dir.join("BRM_saves_current")).unwrap(),
                    b"BRM_savesA\n"
                );
                assert_eq!(fs::read(dir.join("BRM_saves_em")).unwrap(), b"old base map");
                let plan = install::plan(
                    &f,
                    "test",
                    map_files(&f, b"new map".to_vec(), None),
                    "T",
                    None,
                )
                .unwrap();
                install::apply(&f, &plan, None).unwrap();
            }
        }
        assert_installed(dir, b"new map");
        let want: Vec<Vec<u8>> = {
            let mut v = vec![
                b"BRM_savesA\n".to_vec(),
                b"old base map".to_vec(),
                vec![1, 0, 0, 0, 17],
                vec![0x7a, 0x8c, 0xb5, 0x1f, 0, 0, 0, 0, 1, 0, 0, 0],
            ];
            v.sort();
            v
        };
        assert_eq!(kept(dir), want, "step {k}: every replaced file is kept");
    }
}

#[test]
fn a_damaged_staged_copy_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    lay_out(dir);
    let f = folder(dir);
    let plan = install::plan(
        &f,
        "test",
        map_files(&f, b"new map".to_vec(), None),
        "T",
        None,
    )
    .unwrap();
    install::apply(&f, &plan, Some(2)).unwrap_err();
    let intent = install::pending(&f).unwrap().unwrap();
    fs::write(
        dir.join(&intent.stage).join("BRM_saves_em"),
        b"new map, damaged",
    )
    .unwrap();
    let err = install::resume(&f, &intent, None).unwrap_err();
    assert!(
        err.to_string().contains("staged copy does not match"),
        "{err}"
    );
    assert_eq!(fs::read(dir.join("BRM_saves_em")).unwrap(), b"old base map");
    assert_eq!(
        fs::read(dir.join("BRM_saves_current")).unwrap(),
        b"BRM_savesA\n"
    );
    // A second install is refused while this one is pending.
    let err = install::apply(&f, &plan, None).unwrap_err();
    assert!(err.to_string().contains("pending"), "{err}");
}

proptest! {
    #[test]
    fn current_round_trips(slot in prop_oneof![Just(Slot::Base), Just(Slot::A), Just(Slot::B)], base in "[A-Za-z_]{1,12}") {
        let bytes = Current::encode(slot, &base);
        let back = Current::parse(&bytes, &base).unwrap();
        prop_assert_eq!(back.slot, slot);
        prop_assert_eq!(back.absolute_dir, None);
    }

    #[test]
    fn current_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = Current::parse(&bytes, "BRM_saves");
    }
}
