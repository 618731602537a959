//! Reading SYSTABLE/SYSCOLUMN from hand-built catalog files (CAT §3, §5, §6).

mod catalog_support;

use emengine::seg::file::Access;
use std::collections::{BTreeMap, BTreeSet};

use catalog_support::{dict_block, token, Catalog as Builder, Col, BLOCK, INT_NULL};
use emengine::catalog::reader::{
    read_catalog, Catalog, CatalogName, CatalogObject, ColumnInfo, TableInfo,
};
use emengine::catalog::syscat::{syscat_layout, Generation};
use emengine::seg::datatype::ColDataType;
use emengine::types::{Lbid, Oid};

fn starts(present: &BTreeSet<Oid>) -> BTreeMap<Oid, Lbid> {
    syscat_layout(present)
        .into_iter()
        .map(|e| (e.oid, e.lbid))
        .collect()
}

fn read(b: &Builder) -> (tempfile::TempDir, Catalog) {
    let dir = tempfile::tempdir().unwrap();
    let files = b.write(dir.path());
    let present = files.keys().copied().collect();
    let cat = read_catalog(&files, &starts(&present), Access::Read).unwrap();
    (dir, cat)
}

/// The worked example of CAT §6, written byte by byte from the spec's tables (§6.2–§6.4).
fn worked_example_by_hand() -> Builder {
    let mut b = Builder::fresh('C');
    // §6.2 SYSTABLE, RID 0
    let systable: [(i32, &[u8]); 12] = [
        (1001, &[0x01, 0x00, 0x80, 0x00, 0, 0, 0, 0]),
        (1002, &[0x01, 0x00, 0x80, 0x01, 0, 0, 0, 0]),
        (1003, &[0xb8, 0x0b, 0, 0]),
        (1004, &[0xfe, 0x92, 0xe8, 0x07]),
        (1005, &[0xfe, 0xff, 0xff, 0xff]),
        (1006, &[0, 0, 0, 0x80]),
        (1007, &[0, 0, 0, 0x80]),
        (1008, &[0, 0, 0, 0x80]),
        (1009, &[0, 0, 0, 0x80]),
        (1010, &[0, 0, 0, 0x80]),
        (1011, &[0, 0, 0, 0]),
        (1012, &[0xbd, 0x0b, 0, 0]),
    ];
    for (oid, v) in systable {
        b.set(oid, 0, v);
    }
    // §6.3 SYSCOLUMN, RIDs 0, 1, 2
    let null_token = [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    let int = |v: u32| v.to_le_bytes();
    for rid in 0..3u64 {
        let r = rid as u32;
        b.set(1021, rid, &[0x01, 0x00, 0x00, 0x05, 0, 0, 0, 0]);
        b.set(1022, rid, &[0x01, 0x00, 0x00, 0x06, 0, 0, 0, 0]);
        b.set(1023, rid, &[0x01 + r as u8, 0x00, 0x00, 0x07, 0, 0, 0, 0]);
        b.set(1024, rid, &int(3001 + r));
        b.set(1025, rid, &int(if rid == 1 { 3004 } else { 0x8000_0000 }));
        b.set(1026, rid, &int(0x8000_0000));
        b.set(1027, rid, &int(0x8000_0000));
        b.set(1028, rid, &int([6, 12, 4][rid as usize]));
        b.set(1029, rid, &int([4, 40, 16][rid as usize]));
        b.set(1030, rid, &int(r));
        b.set(1031, rid, &int(0xFFFF_FFFE));
        b.set(1032, rid, &null_token);
        b.set(1033, rid, &int(1));
        b.set(1034, rid, &int([0, 0, 2][rid as usize]));
        b.set(1035, rid, &int([10, 10, 38][rid as usize]));
        b.set(1036, rid, &[0x6e]);
        b.set(1037, rid, &int(0x8000_0000));
        b.set(1038, rid, &int(0x8000_0000));
        b.set(1039, rid, &null_token);
        b.set(1040, rid, &null_token);
        b.set(1041, rid, &int(2));
        b.set(1042, rid, &1u64.to_le_bytes());
        b.set(1043, rid, &int([0, 8, 0][rid as usize]));
    }
    // §6.4 dictionary block 0
    for (dict, strings) in [
        (2001, vec!["t1"]),
        (2004, vec!["test"]),
        (2061, vec!["test"]),
        (2064, vec!["t1"]),
        (2067, vec!["id", "name", "price"]),
    ] {
        let d = b.dicts.get_mut(&dict).unwrap();
        d.blocks[0] = strings.iter().map(|s| s.as_bytes().to_vec()).collect();
    }
    b
}

fn expected_columns() -> Vec<ColumnInfo> {
    let col =
        |name: &str, oid, dict: Option<i32>, dt, len, width, scale, prec, pos: i32, charset| {
            ColumnInfo {
                schema: "test".into(),
                table: "t1".into(),
                name: CatalogName::from(name),
                oid: Oid(oid),
                dict_oid: dict.map(Oid),
                data_type: dt,
                column_length: len,
                storage_width: width,
                scale,
                precision: prec,
                nullable: true,
                compression: 2,
                position: pos,
                charset,
                default_value: None,
                autoincrement: false,
                next_value: Some(1),
                rid: pos as u64,
            }
        };
    vec![
        col("id", 3001, None, ColDataType::Int, 4, 4, 0, 10, 0, 0),
        col(
            "name",
            3002,
            Some(3004),
            ColDataType::Varchar,
            40,
            8,
            0,
            10,
            1,
            8,
        ),
        col(
            "price",
            3003,
            None,
            ColDataType::Decimal,
            16,
            16,
            2,
            38,
            2,
            0,
        ),
    ]
}

#[test]
fn worked_example_file_prefixes_match_the_spec() {
    let files = worked_example_by_hand().files();
    assert_eq!(
        &files[&1024][..12],
        &[0xb9, 0x0b, 0, 0, 0xba, 0x0b, 0, 0, 0xbb, 0x0b, 0, 0]
    );
    assert!(files[&1024][12..]
        .chunks(4)
        .all(|c| c == [0x01, 0x00, 0x00, 0x80]));
    assert_eq!(&files[&1036][..3], b"nnn");
    assert!(files[&1036][3..].iter().all(|&b| b == 0xff));
    assert_eq!(files[&1036].len(), 32 * BLOCK);
    assert_eq!(files[&1024].len(), 128 * BLOCK);
    assert_eq!(files[&1023].len(), 256 * BLOCK);
    assert_eq!(files[&2067].len(), 256 * BLOCK);
    // §6.4: 2067 block 0 = free 8161, offsets 8192, 8190, 8186, 8181, end marker at 18
    let d = &files[&2067];
    assert_eq!(u16::from_le_bytes([d[0], d[1]]), 8161);
    let offsets: Vec<u16> = (0..5)
        .map(|i| u16::from_le_bytes([d[10 + 2 * i], d[11 + 2 * i]]))
        .collect();
    assert_eq!(offsets, [8192, 8190, 8186, 8181, 0xFFFF]);
    assert_eq!(&d[8181..8192], b"pricenameid");
    assert_eq!(u16::from_le_bytes([files[&2001][0], files[&2001][1]]), 8174);
    assert_eq!(u16::from_le_bytes([files[&2004][0], files[&2004][1]]), 8172);
    // blocks 1..255 keep the empty header
    assert_eq!(
        &d[BLOCK..BLOCK + 14],
        &[0xf2, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0xff, 0xff]
    );
    assert_eq!(&dict_block(&[])[..14], &d[BLOCK..BLOCK + 14]);
    // token bytes of §6.3
    assert_eq!(token(1, 81920, 0), 0x5000001);
    assert_eq!(token(3, 114688, 0), 0x7000003);
}

#[test]
fn worked_example_decodes_to_the_columns_of_section_6_3() {
    let (_dir, cat) = read(&worked_example_by_hand());
    assert_eq!(cat.problems, Vec::<String>::new());
    assert_eq!(cat.generation, Generation::C);
    assert!(cat.orphan_columns.is_empty());
    assert_eq!(
        cat.tables,
        vec![TableInfo {
            schema: "test".into(),
            name: "t1".into(),
            table_oid: Oid(3000),
            aux_oid: Some(Oid(3005)),
            autoincrement: false,
            columns: expected_columns(),
            rid: 0,
        }]
    );
}

#[test]
fn builder_writes_the_worked_example_byte_for_byte() {
    let b = Builder::worked_example('C');
    let by_hand = worked_example_by_hand().files();
    let built = b.files();
    assert_eq!(
        by_hand.keys().collect::<Vec<_>>(),
        built.keys().collect::<Vec<_>>()
    );
    for (oid, bytes) in &by_hand {
        assert!(bytes == &built[oid], "file of OID {oid} differs");
    }
}

#[test]
fn object_kinds_of_the_worked_example() {
    let (_dir, cat) = read(&worked_example_by_hand());
    match cat.object(Oid(3000)) {
        Some(CatalogObject::Table(t)) => assert_eq!(t.name, "t1"),
        other => panic!("3000: {other:?}"),
    }
    let o = cat.object(Oid(3002)).unwrap();
    assert!(matches!(o, CatalogObject::Column(c) if c.name == "name"));
    assert_eq!(
        (o.data_type(), o.extent_width(), o.compression()),
        (Some(ColDataType::Varchar), Some(8), Some(2))
    );
    let o = cat.object(Oid(3004)).unwrap();
    assert!(matches!(o, CatalogObject::Dictionary(c) if c.oid == Oid(3002)));
    assert!(o.is_dictionary());
    assert_eq!(o.extent_width(), Some(0));
    let o = cat.object(Oid(3005)).unwrap();
    assert!(matches!(o, CatalogObject::Aux(t) if t.table_oid == Oid(3000)));
    assert_eq!(
        (o.data_type(), o.extent_width(), o.compression()),
        (Some(ColDataType::UTinyInt), Some(1), Some(2))
    );
    let o = cat.object(Oid(1036)).unwrap();
    assert!(matches!(o, CatalogObject::Syscat(s) if s.name == "autoincrement"));
    assert_eq!((o.extent_width(), o.compression()), (Some(1), Some(0)));
    assert!(cat.object(Oid(3006)).is_none());
    assert_eq!(cat.column(Oid(3003)).unwrap().storage_width, 16);
    assert!(cat.column(Oid(3004)).is_none());
    assert_eq!(cat.table(Oid(3000)).unwrap().columns.len(), 3);
    assert_eq!(cat.aux_oids(), BTreeSet::from([Oid(3005)]));
    assert_eq!(cat.file_oids(), (3001..=3005).map(Oid).collect());
    assert_eq!(cat.find_table("test", "t1").unwrap().table_oid, Oid(3000));
    assert!(
        cat.find_table("TEST", "t1").is_none(),
        "names compare exactly"
    );
    assert_eq!(cat.columns().count(), 3);
}

#[test]
fn generation_b_has_no_charset() {
    let b = Builder::worked_example('B');
    let (_dir, cat) = read(&b);
    assert_eq!(cat.problems, Vec::<String>::new());
    assert_eq!(cat.generation, Generation::B);
    let mut expected = expected_columns();
    expected[1].charset = 0;
    assert_eq!(cat.tables[0].columns, expected);
    assert_eq!(cat.tables[0].aux_oid, Some(Oid(3005)));
}

#[test]
fn generation_a_uses_shifted_dictionaries_and_has_no_aux() {
    let mut b = Builder::fresh('A');
    b.create_table(
        "test",
        "t1",
        3000,
        None,
        &catalog_support::worked_example_columns(),
    );
    // CAT §6.6: `columnname` tokens carry LBID 110592 (token 0x6C00001 for `id`)
    assert_eq!(&b.cols[&1023][..8], &0x6C0_0001u64.to_le_bytes());
    let (_dir, cat) = read(&b);
    assert_eq!(cat.problems, Vec::<String>::new());
    assert_eq!(cat.generation, Generation::A);
    let mut expected = expected_columns();
    expected[1].charset = 0;
    assert_eq!(cat.tables[0].columns, expected);
    assert_eq!(cat.tables[0].aux_oid, None);
    assert!(cat.aux_oids().is_empty());
}

#[test]
fn aux_oid_of_zero_or_below_3001_means_no_aux() {
    let mut b = Builder::fresh('C');
    b.create_table("s", "old", 3000, Some(0), &[Col::new("a", 3001, 6, 4)]);
    b.create_table("s", "odd", 3002, Some(3000), &[Col::new("a", 3003, 6, 4)]);
    let (_dir, cat) = read(&b);
    assert_eq!(cat.problems, Vec::<String>::new());
    assert!(cat.tables.iter().all(|t| t.aux_oid.is_none()));
}

#[test]
fn dropped_table_rows_are_ignored() {
    let mut b = Builder::fresh('C');
    let cols1 = catalog_support::worked_example_columns();
    let (t1, c1) = b.create_table("test", "t1", 3000, Some(3005), &cols1);
    let mut v = Col::new("v", 3007, 12, 100).dict(3008);
    v.charset = 8;
    b.create_table("test", "t2", 3006, Some(3009), &[v]);
    b.drop_rows(t1, &c1);
    let (_dir, cat) = read(&b);
    assert_eq!(cat.problems, Vec::<String>::new());
    assert_eq!(cat.tables.len(), 1);
    let t2 = &cat.tables[0];
    assert_eq!(
        (t2.name.as_bytes(), t2.table_oid, t2.rid),
        (&b"t2"[..], Oid(3006), 1)
    );
    assert_eq!(t2.columns.len(), 1);
    assert_eq!(t2.columns[0].rid, 3);
    assert_eq!(t2.columns[0].dict_oid, Some(Oid(3008)));
    assert!(cat.column(Oid(3001)).is_none());
    assert!(cat.object(Oid(3004)).is_none());
}

#[test]
fn columns_are_sorted_by_position_not_rid() {
    let mut b = Builder::fresh('C');
    b.create_table("s", "t", 3000, Some(3004), &[]);
    let cols = [
        Col::new("c", 3003, 6, 4),
        Col::new("b", 3002, 9, 8),
        Col::new("a", 3001, 1, 1),
    ];
    // rows land in reverse declaration order, positions 2, 1, 0
    for (i, c) in cols.iter().enumerate() {
        b.column_row(i as u64, "s", "t", 2 - i as i32, c);
    }
    let (_dir, cat) = read(&b);
    assert_eq!(cat.problems, Vec::<String>::new());
    let names: Vec<String> = cat.tables[0]
        .columns
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    let widths: Vec<u16> = cat.tables[0]
        .columns
        .iter()
        .map(|c| c.storage_width)
        .collect();
    assert_eq!(widths, [1, 8, 4]);
}

#[test]
fn defaults_autoincrement_and_nullable() {
    let mut b = Builder::fresh('C');
    let mut a = Col::new("a", 3001, 6, 4);
    a.autoinc = true;
    a.next = 6;
    a.nullable = false;
    let mut s = Col::new("s", 3002, 2, 3);
    s.default = Some("x");
    b.create_table("s", "t", 3000, Some(3003), &[a, s]);
    let (_dir, cat) = read(&b);
    assert_eq!(cat.problems, Vec::<String>::new());
    let t = &cat.tables[0];
    assert!(t.autoincrement);
    assert!(t.columns[0].autoincrement && !t.columns[0].nullable);
    assert_eq!(t.columns[0].next_value, Some(6));
    assert_eq!(t.columns[1].default_value.as_deref(), Some(&b"x"[..]));
    assert_eq!(
        t.columns[1].storage_width, 4,
        "CHAR(3) is stored 4 bytes wide"
    );
    assert_eq!(t.columns[1].dict_oid, None);
}

#[test]
fn names_compare_as_exact_bytes() {
    let mut b = Builder::fresh('C');
    b.create_table("Test", "T1", 3000, Some(3002), &[Col::new("a", 3001, 6, 4)]);
    b.create_table("test", "t1", 3003, Some(3005), &[Col::new("a", 3004, 6, 4)]);
    let (_dir, cat) = read(&b);
    assert_eq!(cat.problems, Vec::<String>::new());
    assert_eq!(cat.tables.len(), 2);
    assert_eq!(
        cat.find_table("Test", "T1").unwrap().columns[0].oid,
        Oid(3001)
    );
    assert_eq!(
        cat.find_table("test", "t1").unwrap().columns[0].oid,
        Oid(3004)
    );
}

#[test]
fn token_past_the_dictionary_is_reported() {
    let mut b = Builder::worked_example('C');
    // `price` now points at block 300 of 2067, past its 256-block file
    b.set(1023, 2, &token(1, 114688 + 300, 0).to_le_bytes());
    let (dir, cat) = read(&b);
    let path = dir.path().join(catalog_support::rel_path(1023));
    let p = cat
        .problems
        .iter()
        .find(|p| p.contains("columnname"))
        .expect("a problem");
    assert!(
        p.starts_with(&format!("{}: at byte 16:", path.display())),
        "{p}"
    );
    assert!(
        p.contains("block 300 is past the end of the dictionary file (256 blocks)"),
        "{p}"
    );
    // no other start fits all three tokens: the given one is kept
    let dict = dir.path().join(catalog_support::rel_path(2067));
    assert_eq!(
        cat.problems[0],
        format!(
            "{}: at byte 0: no start LBID of dictionary 2067 fits all 3 tokens of {}; keeping 114688",
            dict.display(),
            path.display()
        )
    );
    // schema and table still resolve: the column keeps its place, under a placeholder name
    assert_eq!(cat.problems.len(), 2, "{:?}", cat.problems);
    assert_eq!(cat.tables[0].columns.len(), 3);
    let price = cat.column(Oid(3003)).unwrap();
    assert_eq!(price.name, "<unknown name of column 3003>");
    assert_eq!(price.storage_width, 16);
}

#[test]
fn token_with_op_past_the_block_is_reported() {
    let mut b = Builder::worked_example('C');
    b.set(1023, 0, &token(9, 114688, 0).to_le_bytes());
    let (_dir, cat) = read(&b);
    assert!(
        cat.problems
            .iter()
            .any(|p| p.contains("block 0 holds 3 strings, not string 9")),
        "{:?}",
        cat.problems
    );
}

#[test]
fn torn_row_is_reported_with_file_and_offset() {
    let mut b = Builder::worked_example('C');
    b.set_int(1034, 1, catalog_support::INT_EMPTY);
    b.set_int(1037, 1, catalog_support::INT_EMPTY);
    let (dir, cat) = read(&b);
    let objectid = dir.path().join(catalog_support::rel_path(1024));
    assert_eq!(
        cat.problems,
        vec![format!(
            "{}: at byte 4: syscolumn row 1 is live but EMPTY in scale (1034), distcount (1037)",
            objectid.display()
        )]
    );
    assert_eq!(cat.tables[0].columns[1].scale, 0);
}

#[test]
fn orphan_columns_and_duplicate_tables_are_reported() {
    let mut b = Builder::fresh('C');
    b.create_table("s", "t", 3000, Some(3002), &[Col::new("a", 3001, 6, 4)]);
    b.create_table("s", "t", 3003, Some(3005), &[Col::new("b", 3004, 6, 4)]);
    // SYSCOLUMN rows of a table with no SYSTABLE row
    b.column_row(2, "s", "ghost", 0, &Col::new("g", 3010, 6, 4));
    b.column_row(3, "s", "ghost", 1, &Col::new("h", 3011, 6, 4));
    let (dir, cat) = read(&b);
    assert_eq!(cat.tables.len(), 2);
    let systable = dir.path().join(catalog_support::rel_path(1003));
    let syscolumn = dir.path().join(catalog_support::rel_path(1024));
    assert!(
        cat.problems.contains(&format!(
            "{}: at byte 4: duplicate table s.t: systable rows 0 (OID 3000) and 1 (OID 3003); \
             columns go to the first",
            systable.display()
        )),
        "{:?}",
        cat.problems
    );
    assert!(
        cat.problems.contains(&format!(
            "{}: at byte 8: syscolumn rows of s.ghost (OIDs 3010, 3011) have no systable row",
            syscolumn.display()
        )),
        "{:?}",
        cat.problems
    );
    assert_eq!(
        cat.orphan_columns.iter().map(|c| c.oid).collect::<Vec<_>>(),
        [Oid(3010), Oid(3011)]
    );
    assert!(matches!(cat.object(Oid(3011)), Some(CatalogObject::Column(c)) if c.name == "h"));
    // both duplicate rows' columns went to the first table
    assert_eq!(cat.table(Oid(3000)).unwrap().columns.len(), 2);
    assert!(cat.table(Oid(3003)).unwrap().columns.is_empty());
}

#[test]
fn dictobjectid_mismatches_are_reported() {
    let mut b = Builder::fresh('C');
    let no_dict = Col::new("v", 3001, 12, 40); // VARCHAR(40) but dictobjectid NULL
    let bogus = Col::new("i", 3002, 6, 4).dict(3010); // INT with a dictionary
    let low = Col::new("w", 3003, 24, 65535).dict(2999); // TEXT with dictobjectid ≤ 3000
    b.create_table("s", "t", 3000, Some(3004), &[no_dict, bogus, low]);
    let (_dir, cat) = read(&b);
    let p = &cat.problems;
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(
        p[0].ends_with("column 3001 (VARCHAR 40) is a dictionary column but dictobjectid is NULL"),
        "{p:?}"
    );
    assert!(
        p[1].ends_with("column 3002 (INT 4) is not a dictionary column but dictobjectid is 3010"),
        "{p:?}"
    );
    assert!(
        p[2].ends_with("column 3003 (TEXT 65535) is a dictionary column but dictobjectid is 2999"),
        "{p:?}"
    );
    assert!(cat.columns().all(|c| c.dict_oid.is_none()));
    assert_eq!(cat.column(Oid(3001)).unwrap().storage_width, 8);
}

#[test]
fn unknown_datatype_and_widthless_columns_are_skipped_and_reported() {
    let mut b = Builder::fresh('C');
    b.create_table(
        "s",
        "t",
        3000,
        Some(3004),
        &[
            Col::new("a", 3001, 27, 4),
            Col::new("b", 3002, 0, 1),
            Col::new("c", 3003, 6, 4),
        ],
    );
    let (_dir, cat) = read(&b);
    assert_eq!(cat.problems.len(), 3, "{:?}", cat.problems);
    assert!(cat.problems[0].contains("unknown datatype 27"));
    assert!(cat.problems[1].contains("datatype BIT with columnlength 1 has no storage width"));
    assert!(cat.problems[2].contains("column positions are [2], not 0..1"));
    assert_eq!(
        cat.tables[0]
            .columns
            .iter()
            .map(|c| c.oid)
            .collect::<Vec<_>>(),
        [Oid(3003)]
    );
}

#[test]
fn dictionary_starts_are_inferred_when_not_given() {
    let b = Builder::worked_example('C');
    let dir = tempfile::tempdir().unwrap();
    let files = b.write(dir.path());
    let cat = read_catalog(&files, &BTreeMap::new(), Access::Read).unwrap();
    assert_eq!(cat.problems, Vec::<String>::new());
    assert_eq!(cat.tables[0].columns, expected_columns());
}

#[test]
fn dictionary_starts_that_misfit_the_tokens_are_corrected_and_reported() {
    let b = Builder::worked_example('C');
    let dir = tempfile::tempdir().unwrap();
    let files = b.write(dir.path());
    // generation-A starts for a generation-C catalog: every SYSCOLUMN token is 4096 blocks off
    let wrong = starts(&Generation::A.oids());
    let cat = read_catalog(&files, &wrong, Access::Read).unwrap();
    assert_eq!(cat.tables[0].columns, expected_columns());
    let path = |o| files[&Oid(o)].display().to_string();
    assert_eq!(
        cat.problems,
        [(2061, 1021, 77824, 81920), (2064, 1022, 94208, 98304), (2067, 1023, 110592, 114688)]
            .map(|(d, c, given, used)| format!(
                "{}: at byte 0: {} of {} tokens of {} do not fit dictionary {d} at start LBID {given}; \
                 start {used} fits them all, and the catalog's rows are read with it",
                path(d),
                if d == 2067 { 3 } else { 1 },
                if d == 2067 { 3 } else { 1 },
                path(c)
            ))
    );
}

#[test]
fn upgraded_catalog_keeps_generation_a_dictionary_lbids() {
    let mut b = Builder::fresh('A');
    b.create_table(
        "test",
        "t1",
        3000,
        None,
        &catalog_support::worked_example_columns(),
    );
    b.upgrade(1012);
    b.upgrade(1043);
    let dir = tempfile::tempdir().unwrap();
    let files = b.write(dir.path());
    let present = files.keys().copied().collect();
    assert_eq!(Generation::detect(&present), Generation::C);
    assert_eq!(
        emengine::catalog::tokens::consistent_generations(&files, Access::Read).unwrap(),
        vec![Generation::A]
    );
    // the replay of the original generation is what the tokens agree with
    let (layout, later) =
        emengine::catalog::syscat::syscat_layout_upgraded(&present, Generation::A);
    assert_eq!(later, [Oid(1012), Oid(1043)]);
    let original: BTreeMap<Oid, Lbid> = layout.into_iter().map(|e| (e.oid, e.lbid)).collect();
    let cat = read_catalog(&files, &original, Access::Read).unwrap();
    assert_eq!(cat.problems, Vec::<String>::new());
    assert_eq!(cat.generation, Generation::C);
    let mut expected = expected_columns();
    expected[1].charset = 0;
    assert_eq!(cat.tables[0].columns, expected);
    assert_eq!(
        cat.tables[0].aux_oid, None,
        "auxcolumnoid 0 after the upgrade"
    );
    // with the replay over the files present, the reader finds the original starts itself
    let cat = read_catalog(&files, &starts(&present), Access::Read).unwrap();
    assert_eq!(cat.tables[0].columns, expected);
    assert_eq!(cat.problems.len(), 3, "{:?}", cat.problems);
}

#[test]
fn fresh_catalogs_are_consistent_with_their_generation() {
    for (gen, expected) in [
        ('A', vec![Generation::A]),
        ('B', vec![Generation::B]),
        ('C', vec![Generation::C, Generation::B]),
    ] {
        let mut b = Builder::fresh(gen);
        b.create_table(
            "test",
            "t1",
            3000,
            None,
            &catalog_support::worked_example_columns(),
        );
        let dir = tempfile::tempdir().unwrap();
        let files = b.write(dir.path());
        assert_eq!(
            emengine::catalog::tokens::consistent_generations(&files, Access::Read).unwrap(),
            expected,
            "{gen}"
        );
    }
    // a catalog without any table constrains nothing
    let dir = tempfile::tempdir().unwrap();
    let files = Builder::fresh('A').write(dir.path());
    assert_eq!(
        emengine::catalog::tokens::consistent_generations(&files, Access::Read).unwrap(),
        vec![Generation::A]
    );
}

#[test]
fn missing_files_are_reported() {
    let b = Builder::worked_example('C');
    let dir = tempfile::tempdir().unwrap();
    let mut files = b.write(dir.path());
    files.remove(&Oid(1037));
    files.remove(&Oid(2070));
    let cat = read_catalog(&files, &starts(&Generation::C.oids()), Access::Read).unwrap();
    assert_eq!(
        cat.problems,
        [
            "catalog file of syscolumn.defaultvalue (2070) is missing (generation C catalog)",
            "catalog file of syscolumn.distcount (1037) is missing (generation C catalog)",
        ]
    );
    assert_eq!(cat.tables[0].columns, expected_columns());

    let none = read_catalog(&BTreeMap::new(), &BTreeMap::new(), Access::Read).unwrap();
    assert_eq!(none.problems, ["no system catalog files were found"]);
    assert!(none.tables.is_empty());
}

#[test]
fn null_objectid_and_catalog_oids_are_rejected() {
    let mut b = Builder::fresh('C');
    b.create_table(
        "s",
        "t",
        3000,
        Some(3003),
        &[Col::new("a", 3001, 6, 4), Col::new("b", 1030, 6, 4)],
    );
    b.set_int(1024, 0, INT_NULL);
    let (_dir, cat) = read(&b);
    assert!(
        cat.problems
            .iter()
            .any(|p| p.contains("syscolumn.objectid of row 0 is NULL; row skipped")),
        "{:?}",
        cat.problems
    );
    assert!(
        cat.problems
            .iter()
            .any(|p| p.contains("syscolumn.objectid of row 1 is 1030, not a user OID")),
        "{:?}",
        cat.problems
    );
    assert!(cat.tables[0].columns.is_empty());
    assert!(
        cat.problems
            .last()
            .unwrap()
            .ends_with("table s.t (3000) has no syscolumn rows"),
        "{:?}",
        cat.problems
    );
}

#[test]
fn catalog_serialises_to_json() {
    let mut b = Builder::fresh('C');
    let mut cols = catalog_support::worked_example_columns();
    cols[0].default = Some("5");
    b.create_table("test", "t1", 3000, Some(3005), &cols);
    let (_dir, cat) = read(&b);
    let v = serde_json::to_value(&cat).unwrap();
    assert_eq!(v["generation"], "C");
    let t = &v["tables"][0];
    assert_eq!(
        (
            t["schema"].as_str(),
            t["name"].as_str(),
            t["aux_oid"].as_i64()
        ),
        (Some("test"), Some("t1"), Some(3005))
    );
    assert_eq!(t["columns"][0]["default_value"], "5");
    assert_eq!(t["columns"][1]["default_value"], serde_json::Value::Null);
    assert_eq!(t["columns"][1]["data_type"], "VARCHAR");
    assert_eq!(t["columns"][1]["dict_oid"], 3004);
    assert_eq!(t["columns"][2]["storage_width"], 16);
    assert!(v.get("index").is_none());
}

/// Legacy HDFS catalogs are compressed (type 2): the same blocks, read through the chunks.
#[test]
fn compressed_catalog_files_read_the_same() {
    use emengine::seg::header::{CompressionType, ControlHeader};
    use emengine::seg::writer::CompressedWriter;

    let b = worked_example_by_hand();
    let dir = tempfile::tempdir().unwrap();
    let mut files = b.write(dir.path());
    let plain = read_catalog(&files, &starts(&Generation::C.oids()), Access::Read).unwrap();
    for (oid, bytes) in b.files() {
        let header = ControlHeader {
            version: 3,
            compression: CompressionType::Snappy2,
            header_size: 8192,
            block_count: (bytes.len() / BLOCK) as u64,
            width: catalog_support::width(oid) as u64,
            data_type: 6,
            lbids: vec![],
        };
        let mut w = CompressedWriter::new(std::io::Cursor::new(Vec::new()), header).unwrap();
        w.push_chunk(&bytes, 1).unwrap();
        let path = dir.path().join(format!("{oid}.compressed"));
        std::fs::write(&path, w.finish().unwrap().into_inner()).unwrap();
        files.insert(Oid(oid), path);
    }
    let compressed = read_catalog(&files, &starts(&Generation::C.oids()), Access::Read).unwrap();
    assert_eq!(compressed.problems, Vec::<String>::new());
    assert_eq!(compressed.tables, plain.tables);
}

#[test]
fn catalog_files_are_found_under_a_dbroot() {
    let dir = tempfile::tempdir().unwrap();
    let b = Builder::worked_example('B');
    let written = b.write(dir.path());
    // a work file and a user file next to them are not catalog files
    std::fs::write(
        dir.path()
            .join(catalog_support::rel_path(1001))
            .with_extension("cdf.tmp"),
        b"x",
    )
    .unwrap();
    let user = dir.path().join(catalog_support::rel_path(3001));
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(&user, b"").unwrap();
    let found = emengine::catalog::locate::catalog_files_in(dir.path());
    assert_eq!(found, written);
    assert_eq!(found.len(), 42);
    assert!(found[&Oid(1036)].ends_with("000.dir/000.dir/004.dir/012.dir/000.dir/FILE000.cdf"));
    assert!(found[&Oid(2067)].ends_with("000.dir/000.dir/008.dir/019.dir/000.dir/FILE000.cdf"));
    assert_eq!(
        read_catalog(&found, &BTreeMap::new(), Access::Read)
            .unwrap()
            .problems,
        Vec::<String>::new()
    );
}

#[test]
fn oids_used_twice_are_reported_and_the_first_use_wins() {
    let mut b = Builder::fresh('C');
    b.create_table(
        "s",
        "a",
        3000,
        Some(3003),
        &[Col::new("x", 3001, 12, 20).dict(3002)],
    );
    // a second table whose column reuses 3001 and whose dictionary is the first table's AUX OID
    b.create_table(
        "s",
        "b",
        3004,
        Some(3007),
        &[
            Col::new("y", 3001, 6, 4),
            Col::new("z", 3005, 12, 9).dict(3003),
        ],
    );
    let (dir, cat) = read(&b);
    let syscolumn = dir.path().join(catalog_support::rel_path(1024));
    assert_eq!(
        cat.problems,
        [
            format!("{}: at byte 4: OID 3001 is used twice: by column s.a.x and by column s.b.y", syscolumn.display()),
            format!(
                "{}: at byte 8: OID 3003 is used twice: by AUX column of s.a and by dictionary of s.b.z",
                syscolumn.display()
            ),
        ]
    );
    assert!(matches!(cat.object(Oid(3001)), Some(CatalogObject::Column(c)) if c.name == "x"));
    assert!(matches!(cat.object(Oid(3003)), Some(CatalogObject::Aux(t)) if t.name == "a"));
    assert_eq!(
        cat.table(Oid(3004)).unwrap().columns.len(),
        2,
        "both rows stay in their table"
    );
}
