//! Corrupt extent maps: truncation at every offset, wrong magic, nEM = 0, trailing bytes,
//! flipped bytes and arbitrary input. Every failure is an error naming the byte offset (and the
//! file, through `ExtentMap::read`); nothing panics.

use emengine::em::{CasualPartition, CpState, EmVersion, ExtentMap, ExtentRecord};
use emengine::error::{DecodeKind, Error};
use proptest::prelude::*;

fn small_map() -> ExtentMap {
    let rec = |start: i64, oid: i32, width: u16| {
        ExtentRecord::builder(oid, start)
            .width(width)
            .size(u32::from(width.max(8)))
            .hwm(3)
            .cp(CasualPartition::narrow(CpState::VALID, -5, 5))
            .build()
    };
    ExtentMap::from_extents(vec![
        rec(0, 3000, 8),
        rec(8192, 3001, 0),
        rec(32768, 3002, 8),
    ])
}

#[test]
fn truncation_at_every_offset() {
    for version in [EmVersion::V5, EmVersion::V4] {
        let full = small_map().encode(version);
        let rec_len = version.record_len();
        let records_end = 12 + 3 * rec_len;
        assert_eq!(full.len(), records_end + 50 * 16);
        for len in 0..full.len() {
            let result = ExtentMap::parse(&full[..len]);
            if len < 12 {
                let err = result.unwrap_err();
                assert_eq!(err.offset, (len as u64 / 4) * 4, "len {len}: {err}");
                assert!(
                    matches!(err.kind, DecodeKind::Truncated { .. }),
                    "len {len}: {err}"
                );
            } else if len < records_end {
                let err = result.unwrap_err();
                let first_incomplete = 12 + (len - 12) / rec_len * rec_len;
                assert_eq!(err.offset, first_incomplete as u64, "len {len}: {err}");
                let DecodeKind::Truncated { found, .. } = err.kind else {
                    panic!("{err}")
                };
                assert_eq!(found as usize, len - first_incomplete);
            } else {
                // A short free list is accepted; complete slots are kept.
                let map = result.unwrap_or_else(|e| panic!("len {len}: {e}"));
                assert_eq!(map.extents.len(), 3);
                assert_eq!(map.free_list.len(), (len - records_end) / 16);
            }
        }
    }
}

/// `read` (which streams the file) reports exactly what `parse` reports, with the file named.
#[test]
fn read_agrees_with_parse_at_every_length() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("BRM_saves_em");
    for version in [EmVersion::V4, EmVersion::V5] {
        let mut full = small_map().encode(version);
        full.extend_from_slice(&[7u8; 5]); // one case of trailing bytes
        for len in (0..full.len()).step_by(3).chain([full.len()]) {
            std::fs::write(&path, &full[..len]).unwrap();
            match (ExtentMap::parse(&full[..len]), ExtentMap::read(&path)) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(a), Err(b)) => {
                    assert_eq!(b.offset(), Some(a.offset));
                    assert_eq!(b.to_string(), format!("{}: {a}", path.display()));
                }
                (a, b) => panic!("len {len}: parse {a:?}, read {b:?}"),
            }
        }
    }
}

#[test]
fn read_names_the_file_and_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("BRM_saves_em");
    let full = small_map().encode(EmVersion::V5);
    std::fs::write(&path, &full[..100]).unwrap();
    let err = ExtentMap::read(&path).unwrap_err();
    assert_eq!(err.path(), Some(path.as_path()));
    assert_eq!(err.offset(), Some(12));
    assert_eq!(
        err.to_string(),
        format!(
            "{}: at byte 12: truncated: expected extent record 1 of 3 (version 5, 96 bytes), found 88 bytes",
            path.display()
        )
    );
    let missing = dir.path().join("absent");
    let err = ExtentMap::read(&missing).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(
        err.to_string()
            .starts_with(&format!("{}: cannot open", missing.display())),
        "{err}"
    );
}

#[test]
fn wrong_magic_is_named() {
    let mut bytes = small_map().encode(EmVersion::V5);
    for magic in [
        0x76F7_8B1Cu32,
        0x76F7_8B1D,
        0x76F7_8B1E,
        0x76F7_8B21,
        0,
        0xFDC1_19A3,
    ] {
        bytes[..4].copy_from_slice(&magic.to_le_bytes());
        let err = ExtentMap::parse(&bytes).unwrap_err();
        assert_eq!(err.offset, 0);
        let DecodeKind::BadMagic { found, .. } = &err.kind else {
            panic!("{err}")
        };
        assert_eq!(found, &format!("{magic:#010x}"));
    }
}

#[test]
fn zero_extents_is_refused() {
    let mut bytes = small_map().encode(EmVersion::V4);
    bytes[4..8].copy_from_slice(&0u32.to_le_bytes());
    let err = ExtentMap::parse(&bytes).unwrap_err();
    assert_eq!(err.offset, 4);
    assert_eq!(
        err.to_string(),
        "at byte 4: invalid extent count (nEM): expected at least 1 (ColumnStore refuses to load an \
         empty extent map), found 0"
    );
}

#[test]
fn bytes_beyond_the_free_list_are_refused() {
    let mut bytes = small_map().encode(EmVersion::V5);
    let end = bytes.len() as u64;
    bytes.extend_from_slice(&[0u8; 16]);
    let err = ExtentMap::parse(&bytes).unwrap_err();
    assert_eq!(err.offset, end);
    assert!(
        matches!(
            err.kind,
            DecodeKind::Invalid {
                field: "file length",
                ..
            }
        ),
        "{err}"
    );
}

/// Whether file offset `pos` (past the header) of a 3-extent map is a padding byte (EM §1.9).
fn is_padding(version: EmVersion, pos: usize) -> bool {
    let rec_len = version.record_len();
    let records_end = 12 + 3 * rec_len;
    if pos >= records_end {
        return (pos - records_end) % 16 >= 12;
    }
    let at = (pos - 12) % rec_len;
    match version {
        EmVersion::V5 => (12..16).contains(&at) || (40..48).contains(&at) || (53..64).contains(&at),
        EmVersion::V4 => (12..16).contains(&at) || (61..64).contains(&at),
    }
}

#[test]
fn flipped_bytes_never_panic_and_header_damage_is_an_error() {
    for version in [EmVersion::V5, EmVersion::V4] {
        let good = small_map().encode(version);
        let original = ExtentMap::parse(&good).unwrap();
        for pos in 0..good.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bytes = good.clone();
                bytes[pos] ^= mask;
                let result = ExtentMap::parse(&bytes);
                match pos {
                    0..=3 => {
                        let err = result.unwrap_err();
                        assert_eq!(err.offset, 0);
                        assert!(matches!(err.kind, DecodeKind::BadMagic { .. }));
                    }
                    4..=7 => {
                        let err = result.unwrap_err();
                        assert!(err.offset as usize <= bytes.len(), "{err}");
                    }
                    8..=11 => {
                        let n_free = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
                        assert_eq!(result.is_ok(), n_free >= 50, "pos {pos} mask {mask:#x}");
                    }
                    _ => {
                        // Record or free-list content still decodes; it differs from the
                        // original unless the byte is padding, which is ignored.
                        let map = result.unwrap();
                        if is_padding(version, pos) {
                            assert_eq!(map, original, "pos {pos} mask {mask:#x}");
                        } else {
                            assert_ne!(map, original, "pos {pos} mask {mask:#x}");
                        }
                    }
                }
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Err(e) = ExtentMap::parse(&bytes) {
            prop_assert!(e.offset as usize <= bytes.len());
        }
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_magic_never_panic(
        v5 in any::<bool>(),
        n in 0u32..8,
        n_free in 0u32..8,
        body in prop::collection::vec(any::<u8>(), 0..900),
    ) {
        let magic: u32 = if v5 { 0x76F7_8B20 } else { 0x76F7_8B1F };
        let mut bytes = magic.to_le_bytes().to_vec();
        bytes.extend_from_slice(&n.to_le_bytes());
        bytes.extend_from_slice(&n_free.to_le_bytes());
        bytes.extend_from_slice(&body);
        match ExtentMap::parse(&bytes) {
            Ok(map) => {
                prop_assert_eq!(map.extents.len(), n as usize);
                // Whatever was read can be written and read again.
                let again = ExtentMap::parse(&map.encode(map.version)).unwrap();
                prop_assert_eq!(again.extents.len(), n as usize);
            }
            Err(e) => prop_assert!(e.offset as usize <= bytes.len()),
        }
    }
}
