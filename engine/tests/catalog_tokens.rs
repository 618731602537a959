//! Catalog tokens against dictionary extents and start-LBID inference (CAT §3.3, SEG §7.4).

mod catalog_support;
mod real_support;

use emengine::seg::file::Access;
use std::collections::BTreeMap;

use catalog_support::{dict_block, token, Catalog as Builder, BLOCK};
use emengine::catalog::syscat::{syscat_layout, Generation};
use emengine::catalog::tokens::{
    check_token_lbids, infer_dict_start, infer_dict_starts, narrow_by_strings, resolve_string,
    DictExtent, TokenFault,
};
use emengine::seg::token::Token;
use emengine::types::{Lbid, Oid};
use proptest::prelude::*;

fn extents_of(gen: Generation) -> BTreeMap<Oid, Vec<DictExtent>> {
    syscat_layout(&gen.oids())
        .into_iter()
        .filter(|e| e.width == 0)
        .map(|e| (e.oid, vec![DictExtent::single(e.lbid, e.range_size * 1024)]))
        .collect()
}

fn example() -> Builder {
    let mut b = Builder::worked_example('C');
    let mut c = catalog_support::Col::new("d", 3007, 12, 10).dict(3008);
    c.default = Some("some default");
    b.create_table("test", "t2", 3006, Some(3009), &[c]);
    b
}

#[test]
fn replayed_extents_agree_with_the_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let files = example().write(dir.path());
    let findings = check_token_lbids(&files, &extents_of(Generation::C), Access::Read).unwrap();
    assert!(findings.is_empty(), "{findings:?}");
}

#[test]
fn generation_a_extents_disagree_with_generation_c_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let files = example().write(dir.path());
    let findings = check_token_lbids(&files, &extents_of(Generation::A), Access::Read).unwrap();
    // SYSTABLE dictionaries sit at the same LBIDs in both generations; SYSCOLUMN ones moved by 4096
    let columns: std::collections::BTreeSet<i32> = findings.iter().map(|f| f.column.0).collect();
    assert_eq!(columns, [1021, 1022, 1023, 1032, 1039, 1040].into());
    // one finding per token row: 4 rows × 3 name columns + 1 row × 3 default columns
    assert_eq!(findings.len(), 4 * 3 + 3);
    let f = &findings[0];
    assert_eq!(
        (f.column, f.dict, f.rid, f.offset),
        (Oid(1021), Oid(2061), 0, 0)
    );
    // LBID 81920 is inside the generation-A extent 77824..86015, but 4096 blocks into a 256-block file
    assert_eq!(
        f.fault,
        TokenFault::PastEndOfFile {
            fbo: 4096,
            file_blocks: 256
        }
    );
    assert!(
        f.to_string()
            .ends_with("block 4096 is past the end of the dictionary file (256 blocks)"),
        "{f}"
    );
    // an extent that ends before the token's LBID
    let far = check_token_lbids(
        &files,
        &BTreeMap::from([(Oid(2061), vec![DictExtent::single(Lbid(69632), 8192)])]),
        Access::Read,
    )
    .unwrap();
    let f = far.iter().find(|f| f.column == Oid(1021)).unwrap();
    assert_eq!(
        f.fault,
        TokenFault::OutsideExtents {
            lbid: 81920,
            extents: vec![(69632, 8192)]
        }
    );
    assert!(
        f.to_string()
            .contains("lbid 81920 is outside the dictionary's extents (69632..77823)"),
        "{f}"
    );
    assert!(
        f.to_string()
            .starts_with(&format!("{}: at byte 0:", files[&Oid(1021)].display())),
        "{f}"
    );
}

#[test]
fn tokens_past_the_file_or_the_block_are_found() {
    let mut b = example();
    b.set(1023, 1, &token(1, 114688 + 300, 0).to_le_bytes()); // inside the extent, past the file
    b.set(1023, 2, &token(4, 114688, 0).to_le_bytes()); // block 0 holds 3 strings + "d" = 4 → ok
    b.set(1022, 0, &token(2, 98304, 0).to_le_bytes()); // block 0 of 2064 holds "t1", "t2"
    b.set(1002, 0, &token(7, 24576, 0).to_le_bytes()); // block 0 of 2004 holds one string
    let dir = tempfile::tempdir().unwrap();
    let files = b.write(dir.path());
    let findings = check_token_lbids(&files, &extents_of(Generation::C), Access::Read).unwrap();
    let got: Vec<(i32, u64, TokenFault)> = findings
        .iter()
        .map(|f| (f.column.0, f.rid, f.fault.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                1002,
                0,
                TokenFault::NoSuchString {
                    fbo: 0,
                    op: 7,
                    count: 1
                }
            ),
            (
                1023,
                1,
                TokenFault::PastEndOfFile {
                    fbo: 300,
                    file_blocks: 256
                }
            ),
        ]
    );
}

#[test]
fn without_dictionary_files_only_lbids_are_checked() {
    let mut b = example();
    b.set(1023, 0, &token(1000, 114688, 0).to_le_bytes());
    b.set(1023, 1, &token(1, 114688 + 9000, 0).to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let mut files = b.write(dir.path());
    files.remove(&Oid(2067));
    let findings = check_token_lbids(&files, &extents_of(Generation::C), Access::Read).unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        matches!(findings[0].fault, TokenFault::OutsideExtents { lbid, .. } if lbid == 114688 + 9000)
    );
    assert_eq!(findings[0].dict_path, None);
}

#[test]
fn unknown_dictionary_extents_flag_every_token() {
    let dir = tempfile::tempdir().unwrap();
    let files = example().write(dir.path());
    let mut extents = extents_of(Generation::C);
    extents.remove(&Oid(2001));
    let findings = check_token_lbids(&files, &extents, Access::Read).unwrap();
    assert_eq!(findings.len(), 2, "two SYSTABLE rows");
    assert!(findings.iter().all(|f| f.dict == Oid(2001)));
    assert!(findings[0].to_string().contains("(none known)"));
}

#[test]
fn inference_finds_fresh_install_starts() {
    let dir = tempfile::tempdir().unwrap();
    let files = example().write(dir.path());
    let got = infer_dict_starts(&files, &BTreeMap::new(), Access::Read).unwrap();
    let fresh: BTreeMap<Oid, Vec<Lbid>> = syscat_layout(&Generation::C.oids())
        .into_iter()
        .filter(|e| e.width == 0)
        .map(|e| (e.oid, vec![e.lbid]))
        .collect();
    assert_eq!(
        got, fresh,
        "every dictionary has tokens here and a unique start"
    );
}

#[test]
fn expanded_dictionary_has_several_candidates_until_strings_decide() {
    // an 8192-block dictionary starting at 16384 with strings in blocks 0..=2 and 5000
    let start = 16384i64;
    let mut file = Vec::new();
    for fbo in 0..8192usize {
        let strings: Vec<&[u8]> = match fbo {
            0..=2 => vec![b"a", b"bb", b"ccc"],
            5000 => vec![b"x"],
            _ => vec![],
        };
        file.extend(dict_block(&strings));
    }
    let tokens = [
        Token {
            op: 3,
            lbid: start + 2,
            bc: 0,
        },
        Token {
            op: 1,
            lbid: start + 5000,
            bc: 0,
        },
    ];
    let cands = infer_dict_start(&tokens, 8192);
    // S ≤ start + 2 and start + 5000 < S + 8192, S a multiple of 1024 → 16384 − 3·1024 ..= 16384
    assert_eq!(cands, [13312, 14336, 15360, 16384].map(Lbid).to_vec());
    assert_eq!(narrow_by_strings(&cands, &tokens, &file), vec![Lbid(16384)]);
}

#[test]
fn continuation_blocks_are_concatenated() {
    let mut file = dict_block(&[b"head-", b"other"]);
    file.extend(dict_block(&[b"tail"]));
    let ext = [DictExtent::single(Lbid(2048), 2)];
    assert_eq!(
        resolve_string(
            &file,
            &ext,
            Token {
                op: 1,
                lbid: 2048,
                bc: 1
            }
        )
        .unwrap(),
        b"head-tail"
    );
    assert_eq!(
        resolve_string(
            &file,
            &ext,
            Token {
                op: 2,
                lbid: 2048,
                bc: 0
            }
        )
        .unwrap(),
        b"other"
    );
    assert_eq!(
        resolve_string(
            &file,
            &ext,
            Token {
                op: 1,
                lbid: 2049,
                bc: 1
            }
        ),
        Err(TokenFault::OutsideExtents {
            lbid: 2050,
            extents: vec![(2048, 2)]
        })
    );
    // a second extent of the same file (blockOffset 8192) at unrelated LBIDs
    let two = [
        DictExtent::single(Lbid(0), 1),
        DictExtent {
            start: Lbid(90000),
            blocks: 1,
            block_offset: 1,
        },
    ];
    assert_eq!(
        resolve_string(
            &file,
            &two,
            Token {
                op: 1,
                lbid: 90000,
                bc: 0
            }
        )
        .unwrap(),
        b"tail"
    );
}

#[test]
fn corrupt_dictionary_block_is_a_fault_with_a_file_offset() {
    let mut file = dict_block(&[b"abc"]);
    file.extend(dict_block(&[b"def"]));
    file[BLOCK + 11] = 0; // offset[0] of block 1 must be 8192 (0x2000)
    let ext = [DictExtent::single(Lbid(0), 2)];
    match resolve_string(
        &file,
        &ext,
        Token {
            op: 1,
            lbid: 1,
            bc: 0,
        },
    ) {
        Err(TokenFault::BadBlock { fbo: 1, error }) => assert_eq!(error.offset, BLOCK as u64 + 10),
        other => panic!("{other:?}"),
    }
}

proptest! {
    #[test]
    fn inference_always_contains_the_true_start(
        unit in 0i64..60_000,
        abbreviated in any::<bool>(),
        fbos in proptest::collection::vec(0u32..8192, 1..20),
    ) {
        let file_blocks = if abbreviated { 256 } else { 8192 };
        let start = unit * 1024;
        let tokens: Vec<Token> = fbos
            .iter()
            .map(|f| Token { op: 1, lbid: start + i64::from(f % file_blocks), bc: 0 })
            .collect();
        let cands = infer_dict_start(&tokens, file_blocks);
        prop_assert!(cands.contains(&Lbid(start)));
        prop_assert!(cands.iter().all(|c| c.0 % 1024 == 0 && c.0 >= 0));
        if abbreviated {
            prop_assert_eq!(cands, vec![Lbid(start)]);
        } else {
            prop_assert!(cands.len() <= 8);
        }
    }

    #[test]
    fn token_checks_never_panic_on_random_dictionary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..3 * BLOCK),
        raw in proptest::collection::vec(any::<u64>(), 1..16),
    ) {
        let ext = [DictExtent::single(Lbid(0), 4)];
        for r in &raw {
            let _ = resolve_string(&bytes, &ext, Token::decode(*r));
        }
        let tokens: Vec<Token> = raw.iter().map(|r| Token::decode(*r)).collect();
        let c = infer_dict_start(&tokens, (bytes.len() / BLOCK) as u32);
        let _ = narrow_by_strings(&c, &tokens, &bytes);
    }
}

/// The real dictionary block of SEG §8 as block 0 of a dictionary that starts at LBID 114688.
#[test]
fn real_dictionary_block_resolves() {
    let Some((_, block)) = real_support::real_bytes("dictblock.cdf") else {
        return;
    };
    let ext = [DictExtent::single(Lbid(114688), 8192)];
    let get = |op| {
        resolve_string(
            &block,
            &ext,
            Token {
                op,
                lbid: 114688,
                bc: 0,
            },
        )
    };
    assert_eq!(get(1).unwrap(), b"XLGERIA");
    assert_eq!(get(26).unwrap(), b"ALGERIA");
    assert_eq!(get(50).unwrap(), b"UNITED STATES");
    assert_eq!(
        get(51),
        Err(TokenFault::NoSuchString {
            fbo: 0,
            op: 51,
            count: 50
        })
    );
    let tokens: Vec<Token> = (1..=50)
        .map(|op| Token {
            op,
            lbid: 114688,
            bc: 0,
        })
        .collect();
    let cands = infer_dict_start(&tokens, 1);
    assert_eq!(cands, vec![Lbid(114688)]);
    assert_eq!(narrow_by_strings(&cands, &tokens, &block), cands);
}
