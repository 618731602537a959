//! Checks: the placed extents against the catalog already loaded by the catalog stage.
//!
//! Runs after place. Every string token of the catalog's token columns must resolve in its
//! dictionary at the LBIDs just placed (CAT §3.3): a replayed layout that disagrees with the
//! catalog's own tokens is reported, never silently kept. Nothing is read from disk again.

use crate::catalog::syscat;
use crate::catalog::{check_loaded_token_lbids, DictExtent, LoadedCatalog};
use crate::em::ExtentRecord;
use crate::finding::Finding;
use crate::types::Oid;
use std::collections::BTreeMap;

/// Check the placed catalog dictionaries against the LBIDs the catalog's own tokens hold, in
/// `loaded` (the token columns' and dictionaries' files; whether they could all be loaded was
/// decided before placement, `super::facts::TokenInput`).
pub fn catalog_tokens(loaded: &LoadedCatalog, extents: &[ExtentRecord]) -> Vec<Finding> {
    let mut dict: BTreeMap<Oid, Vec<DictExtent>> = BTreeMap::new();
    for e in extents
        .iter()
        .filter(|e| syscat::is_syscat_oid(e.oid) && e.col_width == 0)
    {
        dict.entry(e.oid).or_default().push(DictExtent {
            start: e.range_start,
            blocks: e.blocks() as u32,
            block_offset: e.block_offset,
        });
    }
    check_loaded_token_lbids(loaded, &dict)
        .into_iter()
        .map(Finding::CatalogToken)
        .collect()
}
