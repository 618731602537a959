//! Where the catalog files are: DBRoot, partition 0, segment 0 of each catalog OID (CAT §1 item 4).
//!
//! `dbbuilder` creates every catalog file at partition 0, segment 0 of one DBRoot (DBRoot 1 unless the
//! catalog was moved), at the path of SEG §1.1, e.g. OID 1001 → `000.dir/000.dir/003.dir/233.dir/000.dir/FILE000.cdf`.

use std::path::Path;

use super::file::CatalogFiles;
use super::syscat::SYSCAT_COLUMNS;
use crate::seg::path::segment_rel_path;
use crate::types::SegmentId;

/// The catalog files that exist under `dbroot` (partition 0, segment 0 of each of the 43 OIDs).
pub fn catalog_files_in(dbroot: &Path) -> CatalogFiles {
    SYSCAT_COLUMNS
        .iter()
        .filter_map(|o| {
            let path = dbroot.join(segment_rel_path(SegmentId {
                oid: o.oid,
                partition: 0,
                segment: 0,
            }));
            path.is_file().then_some((o.oid, path))
        })
        .collect()
}
