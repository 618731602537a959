//! Checks: the placed extents against the catalog already loaded by the catalog stage.
//!
//! Runs after place. Every string token of the catalog's token columns must resolve in its
//! dictionary at the LBIDs just placed (CAT §3.3): a replayed layout that disagrees with the
//! catalog's own tokens is reported, never silently kept. Nothing is read from disk again.

use super::catalog::{is_token_file, CatalogFacts};
use crate::catalog::syscat;
use crate::catalog::{check_loaded_token_lbids, DictExtent};
use crate::em::ExtentRecord;
use crate::finding::{CatalogCheck, Finding};
use crate::types::Oid;
use std::collections::BTreeMap;

/// Check the placed catalog dictionaries against the LBIDs the catalog's own tokens hold.
pub fn catalog_tokens(catalog: &CatalogFacts, extents: &[ExtentRecord]) -> Vec<Finding> {
    if catalog.loaded.is_empty() {
        return Vec::new();
    }
    if let Some((_, e)) = catalog
        .loaded
        .failed()
        .iter()
        .find(|(&o, _)| is_token_file(o))
    {
        return vec![Finding::catalog_not_checked(CatalogCheck::Tokens, e)];
    }
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
    check_loaded_token_lbids(&catalog.loaded, &dict)
        .into_iter()
        .map(Finding::CatalogToken)
        .collect()
}
