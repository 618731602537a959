//! Property: any set of CREATE TABLEs (and DROPs), written as the DDL path writes catalog rows, reads
//! back as the same tables and columns, in every catalog generation.

mod catalog_support;

use emengine::seg::file::Access;
use std::collections::BTreeMap;

use catalog_support::{Catalog as Builder, Col};
use emengine::catalog::reader::read_catalog;
use emengine::catalog::syscat::{syscat_layout, Generation};
use emengine::types::{Lbid, Oid};
use proptest::prelude::*;

/// (datatype code, columnlength, expected storage width, dictionary column?) — written out from
/// CAT §4.2 / §5 rather than computed.
const TYPES: [(i32, i32, u16, bool); 16] = [
    (6, 4, 4, false),     // INT
    (12, 40, 8, true),    // VARCHAR(40)
    (4, 16, 16, false),   // DECIMAL(38)
    (4, 4, 4, false),     // DECIMAL(9)
    (2, 3, 4, false),     // CHAR(3)
    (2, 9, 8, true),      // CHAR(9) latin1
    (12, 5, 8, false),    // VARCHAR(5)
    (12, 1, 2, false),    // VARCHAR(1)
    (1, 1, 1, false),     // TINYINT
    (9, 8, 8, false),     // BIGINT
    (8, 4, 4, false),     // DATE
    (24, 65535, 8, true), // TEXT
    (13, 100, 8, true),   // VARBINARY(100)
    (15, 255, 8, true),   // TINYBLOB
    (18, 8, 8, false),    // UDECIMAL(18)
    (26, 8, 8, false),    // TIMESTAMP
];

#[derive(Debug, Clone)]
struct ColDef {
    name: String,
    ty: usize,
    nullable: bool,
    default: Option<String>,
    charset: i32,
}

#[derive(Debug, Clone)]
struct TableDef {
    schema: String,
    name: String,
    cols: Vec<ColDef>,
    dropped: bool,
}

fn col_def() -> impl Strategy<Value = ColDef> {
    (
        "[a-z][a-z0-9_]{0,12}",
        0..TYPES.len(),
        any::<bool>(),
        proptest::option::of("[ -~]{0,20}"),
        0..256i32,
    )
        .prop_map(|(name, ty, nullable, default, charset)| ColDef {
            name,
            ty,
            nullable,
            default,
            charset,
        })
}

fn table_def() -> impl Strategy<Value = TableDef> {
    (
        prop_oneof![
            Just("test".to_string()),
            Just("Shop".to_string()),
            "[a-zé]{1,8}"
        ],
        "[A-Za-z][A-Za-z0-9_é]{0,15}",
        proptest::collection::vec(col_def(), 1..6),
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(schema, name, cols, dropped)| TableDef {
            schema,
            name,
            cols,
            dropped,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn written_tables_read_back(gen in prop_oneof![Just('A'), Just('B'), Just('C')], defs in proptest::collection::vec(table_def(), 0..6)) {
        let mut b = Builder::fresh(gen);
        let mut next_oid = 3000;
        let mut expected = Vec::new();
        for (i, def) in defs.iter().enumerate() {
            let name = format!("{}_{i}", def.name); // table names unique within a schema
            let mut cols: Vec<Col> = Vec::new();
            let table_oid = next_oid;
            let n_dict = def.cols.iter().filter(|c| TYPES[c.ty].3).count() as i32;
            let mut dict_oid = table_oid + def.cols.len() as i32 + 1;
            for (j, c) in def.cols.iter().enumerate() {
                let (dt, len, _, is_dict) = TYPES[c.ty];
                let leaked: &'static str = Box::leak(format!("{}_{j}", c.name).into_boxed_str());
                let mut col = Col::new(leaked, table_oid + 1 + j as i32, dt, len);
                if is_dict {
                    col = col.dict(dict_oid);
                    dict_oid += 1;
                }
                col.prec = match (dt, len) {
                    (4 | 18, 16) => 38,
                    (4 | 18, 8) => 18,
                    (4 | 18, 4) => 9,
                    _ => 10,
                };
                col.nullable = c.nullable;
                col.charset = c.charset;
                col.default = c.default.clone().map(|d| &*Box::leak(d.into_boxed_str()));
                cols.push(col);
            }
            let aux = (gen != 'A').then_some(table_oid + def.cols.len() as i32 + n_dict + 1);
            next_oid = table_oid + def.cols.len() as i32 + n_dict + 1 + i32::from(aux.is_some());
            let (rid, rids) = b.create_table(&def.schema, &name, table_oid, aux, &cols);
            if def.dropped {
                b.drop_rows(rid, &rids);
            } else {
                expected.push((def.schema.clone(), name, table_oid, aux, cols));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let files = b.write(dir.path());
        let present = files.keys().copied().collect();
        let starts: BTreeMap<Oid, Lbid> = syscat_layout(&present).into_iter().map(|e| (e.oid, e.lbid)).collect();
        let cat = read_catalog(&files, &starts, Access::Read).unwrap();
        prop_assert_eq!(&cat.problems, &Vec::<String>::new());
        prop_assert_eq!(cat.generation, match gen { 'A' => Generation::A, 'B' => Generation::B, _ => Generation::C });
        prop_assert_eq!(cat.tables.len(), expected.len());
        for (schema, name, table_oid, aux, cols) in &expected {
            let t = cat.table(Oid(*table_oid)).expect("table");
            prop_assert_eq!(t.schema.as_bytes(), schema.as_bytes());
            prop_assert_eq!(t.name.as_bytes(), name.as_bytes());
            prop_assert_eq!(t.aux_oid, aux.map(Oid));
            prop_assert_eq!(t.columns.len(), cols.len());
            for (got, want) in t.columns.iter().zip(cols) {
                let ty = TYPES.iter().find(|t| t.0 == want.datatype && t.1 == want.length).unwrap();
                prop_assert_eq!(got.name.as_bytes(), want.name.as_bytes());
                prop_assert_eq!(got.oid, Oid(want.oid));
                prop_assert_eq!(got.dict_oid, want.dict.map(Oid));
                prop_assert_eq!(got.data_type.code(), want.datatype);
                prop_assert_eq!(got.column_length, want.length);
                prop_assert_eq!(got.storage_width, ty.2);
                prop_assert_eq!(got.nullable, want.nullable);
                prop_assert_eq!(got.precision, want.prec);
                prop_assert_eq!(got.charset, if gen == 'C' { want.charset } else { 0 });
                prop_assert_eq!(got.default_value.as_deref(), want.default.map(str::as_bytes));
                prop_assert_eq!(got.compression, 2);
                if let Some(d) = want.dict {
                    let is_dict_of = matches!(cat.object(Oid(d)), Some(emengine::catalog::reader::CatalogObject::Dictionary(c)) if c.oid == Oid(want.oid));
                    prop_assert!(is_dict_of);
                }
            }
        }
    }
}
