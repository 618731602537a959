//! The replayed fresh-install catalog layout (CAT §3.3, SEG §7.3) against the spec's tables and the
//! real V4 extent map of a fresh generation-A catalog.

mod catalog_support;
mod real_support;

use std::collections::BTreeSet;

use catalog_support::{GEN_C_FIRST_FREE, GEN_C_LBIDS};
use emengine::catalog::syscat::{
    all_syscat_oids, syscat_first_free, syscat_layout, syscat_object, CreatedAs, Generation,
    SyscatExtent, SYSCAT_COLUMNS,
};
use emengine::cursor::Cursor;
use emengine::seg::datatype::ColDataType;
use emengine::types::{Lbid, Oid};

fn oids(list: &[i32]) -> BTreeSet<Oid> {
    list.iter().map(|&o| Oid(o)).collect()
}

fn find(layout: &[SyscatExtent], oid: i32) -> SyscatExtent {
    *layout
        .iter()
        .find(|e| e.oid == Oid(oid))
        .unwrap_or_else(|| panic!("no extent for {oid}"))
}

#[test]
fn generation_c_matches_the_spec_table_for_every_oid() {
    let layout = syscat_layout(&Generation::C.oids());
    let got: Vec<(i32, i64)> = layout.iter().map(|e| (e.oid.0, e.lbid.0)).collect();
    assert_eq!(got, GEN_C_LBIDS.to_vec());
    assert_eq!(
        syscat_first_free(&Generation::C.oids()),
        Lbid(GEN_C_FIRST_FREE)
    );
    // contiguous: each extent starts where the previous ends
    for pair in layout.windows(2) {
        assert_eq!(
            pair[0].end(),
            pair[1].lbid,
            "{} → {}",
            pair[0].oid,
            pair[1].oid
        );
    }
}

#[test]
fn widths_types_sizes_and_file_blocks() {
    let layout = syscat_layout(&Generation::C.oids());
    let e = find(&layout, 1001);
    assert_eq!(
        (e.width, e.range_size, e.file_blocks, e.data_type),
        (8, 8, 256, ColDataType::Varchar)
    );
    let e = find(&layout, 2001);
    assert_eq!(
        (e.width, e.range_size, e.file_blocks, e.data_type),
        (0, 8, 256, ColDataType::Varchar)
    );
    let e = find(&layout, 1003);
    assert_eq!(
        (e.width, e.range_size, e.file_blocks, e.data_type),
        (4, 4, 128, ColDataType::Int)
    );
    let e = find(&layout, 1004);
    assert_eq!(
        (e.width, e.range_size, e.file_blocks, e.data_type),
        (4, 4, 128, ColDataType::Date)
    );
    let e = find(&layout, 1036);
    assert_eq!(
        (e.width, e.range_size, e.file_blocks, e.data_type),
        (1, 1, 32, ColDataType::Char)
    );
    let e = find(&layout, 1042);
    assert_eq!(
        (e.width, e.range_size, e.file_blocks, e.data_type),
        (8, 8, 256, ColDataType::UBigInt)
    );
    // per CAT §2.2/§2.3: 8 token columns, 8 dictionaries, 1 CHAR(1), 1 UBIGINT, 3 DATE, 22 INT
    let count = |k: CreatedAs| SYSCAT_COLUMNS.iter().filter(|o| o.created_as == k).count();
    assert_eq!(count(CreatedAs::Token), 8);
    assert_eq!(count(CreatedAs::Dictionary), 8);
    assert_eq!(count(CreatedAs::Char1), 1);
    assert_eq!(count(CreatedAs::UBigInt), 1);
    assert_eq!(count(CreatedAs::Date), 3);
    assert_eq!(count(CreatedAs::Int), 22);
}

#[test]
fn dictionaries_and_names_follow_cat_section_2() {
    let pairs = [
        (1001, 2001),
        (1002, 2004),
        (1021, 2061),
        (1022, 2064),
        (1023, 2067),
        (1032, 2070),
        (1039, 2073),
        (1040, 2076),
    ];
    for (col, dict) in pairs {
        assert_eq!(syscat_object(Oid(col)).unwrap().dict_oid, Some(Oid(dict)));
        assert_eq!(syscat_object(Oid(dict)).unwrap().column_oid, Some(Oid(col)));
    }
    assert_eq!(syscat_object(Oid(1012)).unwrap().name, "auxcolumnoid");
    assert_eq!(syscat_object(Oid(1043)).unwrap().name, "charsetnum");
    assert_eq!(syscat_object(Oid(1036)).unwrap().name, "autoincrement");
    assert_eq!(syscat_object(Oid(1011)).unwrap().name, "autoincrement");
    assert!(syscat_object(Oid(1044)).is_none());
    assert!(
        syscat_object(Oid(2002)).is_none(),
        "LIST/TREE OIDs have no files"
    );
    let expected: BTreeSet<i32> = (1001..=1012)
        .chain(1021..=1043)
        .chain([2001, 2004, 2061, 2064, 2067, 2070, 2073, 2076])
        .collect();
    assert_eq!(
        all_syscat_oids(),
        oids(&expected.into_iter().collect::<Vec<_>>())
    );
}

#[test]
fn generation_b_is_c_without_1043() {
    let b = syscat_layout(&Generation::B.oids());
    assert_eq!(b.len(), 42);
    let c = syscat_layout(&Generation::C.oids());
    assert_eq!(&c[..42], &b[..]);
    assert_eq!(syscat_first_free(&Generation::B.oids()), Lbid(238592));
}

#[test]
fn generation_a_shifts_everything_after_1011_by_4096() {
    let a = syscat_layout(&Generation::A.oids());
    assert_eq!(a.len(), 41);
    for &(oid, lbid) in &GEN_C_LBIDS {
        if oid == 1012 || oid == 1043 {
            continue;
        }
        let expected = if (1021..2000).contains(&oid) || oid >= 2061 {
            lbid - 4096
        } else {
            lbid
        };
        assert_eq!(find(&a, oid).lbid, Lbid(expected), "oid {oid}");
    }
    assert_eq!(find(&a, 1021).lbid, Lbid(69632));
    assert_eq!(find(&a, 1036).lbid, Lbid(180224));
    assert_eq!(find(&a, 1042).lbid, Lbid(226304));
    assert_eq!(find(&a, 2067).lbid, Lbid(110592));
    assert_eq!(syscat_first_free(&Generation::A.oids()), Lbid(234496));
}

#[test]
fn missing_oids_take_no_lbids() {
    let mut present = Generation::C.oids();
    present.remove(&Oid(2070));
    let layout = syscat_layout(&present);
    assert_eq!(layout.len(), 42);
    assert_eq!(find(&layout, 1032).lbid, Lbid(155648));
    assert_eq!(find(&layout, 1033).lbid, Lbid(172032 - 8192));
    assert_eq!(syscat_first_free(&present), Lbid(GEN_C_FIRST_FREE - 8192));
    // non-catalog OIDs are ignored
    let mut with_user = Generation::C.oids();
    with_user.insert(Oid(3001));
    assert_eq!(
        syscat_layout(&with_user),
        syscat_layout(&Generation::C.oids())
    );
    assert!(syscat_layout(&BTreeSet::new()).is_empty());
    assert_eq!(syscat_first_free(&BTreeSet::new()), Lbid(0));
}

#[test]
fn generation_detection() {
    assert_eq!(Generation::detect(&Generation::A.oids()), Generation::A);
    assert_eq!(Generation::detect(&Generation::B.oids()), Generation::B);
    assert_eq!(Generation::detect(&Generation::C.oids()), Generation::C);
    assert_eq!(Generation::detect(&oids(&[1001, 1012])), Generation::B);
    assert_eq!(Generation::detect(&BTreeSet::new()), Generation::A);
}

/// One V4 extent record (EM §1.3), parsed here without the engine's extent-map code.
#[derive(Debug, PartialEq, Eq)]
struct V4Record {
    start: i64,
    size: u32,
    oid: i32,
    block_offset: u32,
    hwm: u32,
    col_wid: u16,
}

fn parse_v4(bytes: &[u8]) -> (Vec<V4Record>, Vec<(i64, u32)>) {
    let mut c = Cursor::new(bytes);
    assert_eq!(c.u32("magic").unwrap(), 0x76F7_8B1F, "V4 magic");
    let n_em = c.u32("nEM").unwrap();
    let n_fl = c.u32("nFL").unwrap();
    let mut recs = Vec::new();
    for _ in 0..n_em {
        let start = c.i64("range.start").unwrap();
        let size = c.u32("range.size").unwrap();
        c.skip(4, "pad").unwrap();
        let oid = c.i32("fileID").unwrap();
        let block_offset = c.u32("blockOffset").unwrap();
        let hwm = c.u32("HWM").unwrap();
        let _partition = c.u32("partitionNum").unwrap();
        let _segment = c.u16("segmentNum").unwrap();
        let _dbroot = c.u16("dbRoot").unwrap();
        let col_wid = c.u16("colWid").unwrap();
        c.skip(2 + 8 + 8 + 4 + 1 + 3, "status, cp, pad").unwrap();
        recs.push(V4Record {
            start,
            size,
            oid,
            block_offset,
            hwm,
            col_wid,
        });
    }
    let mut fl = Vec::new();
    for _ in 0..n_fl {
        let start = c.i64("fl.start").unwrap();
        let size = c.u32("fl.size").unwrap();
        c.skip(4, "pad").unwrap();
        if size != 0 {
            fl.push((start, size));
        }
    }
    assert_eq!(c.remaining(), 0);
    (recs, fl)
}

#[test]
fn generation_a_matches_the_real_fresh_install_extent_map() {
    let Some((_, bytes)) = real_support::real_bytes("BRM_saves_em.v4-syscat") else {
        return;
    };
    let (recs, free) = parse_v4(&bytes);
    assert_eq!(recs.len(), 41);
    let present: BTreeSet<Oid> = recs.iter().map(|r| Oid(r.oid)).collect();
    assert_eq!(Generation::detect(&present), Generation::A);
    let layout = syscat_layout(&present);
    assert_eq!(layout.len(), recs.len());
    for (e, r) in layout.iter().zip(&recs) {
        let replayed = V4Record {
            start: e.lbid.0,
            size: e.range_size,
            oid: e.oid.0,
            block_offset: 0,
            hwm: 0,
            col_wid: e.width,
        };
        assert_eq!(&replayed, r, "extent of OID {}", r.oid);
    }
    assert_eq!(
        free.first().map(|f| f.0),
        Some(syscat_first_free(&present).0)
    );
    assert_eq!(syscat_first_free(&present), Lbid(234496));
}
