//! The real V4 system-catalog extent map (`../shared/real/BRM_saves_em.v4-syscat`): every fact
//! its README lists, and its V4→V5 conversion against the SHA-256 derived in EM §6.2.
//! Skips (prints a line and passes) when the file is absent, and fails instead under `CI=true`.

use emengine::em::{CpState, EmVersion, ExtentMap, FreeSlot};
use std::collections::BTreeSet;
use std::path::PathBuf;

mod real_support;

fn real_file() -> Option<(PathBuf, Vec<u8>)> {
    real_support::real_bytes("BRM_saves_em.v4-syscat")
}

#[test]
fn decodes_to_every_fact_of_the_readme() {
    let Some((path, bytes)) = real_file() else {
        return;
    };
    assert_eq!(bytes.len(), 3436);
    assert_eq!(&bytes[..4], &[0x1f, 0x8b, 0xf7, 0x76]);
    let map = ExtentMap::read(&path).unwrap();
    assert_eq!(map.version, EmVersion::V4);
    assert_eq!(map.extents.len(), 41);
    assert_eq!(map.free_list.len(), 50);
    assert_eq!(bytes.len(), 12 + 64 * 41 + 16 * 50);

    // Ascending and contiguous from LBID 0 to 234495.
    let mut next = 0;
    for e in &map.extents {
        assert_eq!(e.range_start.0, next, "{e:?}");
        next = e.last_lbid().0 + 1;
    }
    assert_eq!(next, 234_496);

    let oids: BTreeSet<i32> = map.extents.iter().map(|e| e.oid.0).collect();
    let mut expected: BTreeSet<i32> = (1001..=1011).chain(1021..=1042).collect();
    let dicts = [2001, 2004, 2061, 2064, 2067, 2070, 2073, 2076];
    expected.extend(dicts);
    assert_eq!(oids, expected);

    let count = |w: u16| map.extents.iter().filter(|e| e.col_width == w).count();
    assert_eq!((count(4), count(8), count(1), count(0)), (23, 9, 1, 8));
    assert_eq!(
        map.extents.iter().find(|e| e.col_width == 1).unwrap().oid.0,
        1036
    );

    for e in &map.extents {
        assert_eq!(
            (
                e.block_offset,
                e.hwm,
                e.partition,
                e.segment,
                e.dbroot.0,
                e.status
            ),
            (0, 0, 0, 0, 1, 0)
        );
        assert_eq!(e.cp.seq_num, 0);
        let (lo, hi) = (e.cp.lo_i64(), e.cp.hi_i64());
        if e.col_width == 0 {
            assert!(dicts.contains(&e.oid.0));
            assert_eq!(e.cp.cp_state(), CpState::Invalid);
            assert_eq!((lo, hi), (i64::MAX, i64::MIN));
        } else if e.oid.0 == 1042 {
            assert_eq!(e.cp.cp_state(), CpState::Valid);
            assert_eq!((lo, hi), (-1, 0));
        } else {
            assert_eq!(e.cp.cp_state(), CpState::Valid);
            assert_eq!((lo, hi), (i64::MAX, i64::MIN));
        }
    }

    // Free list at 0x0a4c: FL[0] = {234496, 67108635}, the rest empty with start 0.
    assert_eq!(12 + 64 * 41, 0x0a4c);
    assert_eq!(
        map.free_list[0],
        FreeSlot {
            start: 234_496,
            size: 67_108_635
        }
    );
    assert!(map.free_list[1..].iter().all(|s| *s == FreeSlot::default()));

    // All padding is zero: V4 record bytes 12..16 and 61..64, free-list bytes 12..16.
    for rec in bytes[12..0x0a4c].chunks(64) {
        assert_eq!(&rec[12..16], &[0; 4]);
        assert_eq!(&rec[61..64], &[0; 3]);
    }
    for slot in bytes[0x0a4c..].chunks(16) {
        assert_eq!(&slot[12..16], &[0; 4]);
    }

    // Writing it back as V4 gives the very same file (its free list is the derived one).
    assert_eq!(map.encode(EmVersion::V4), bytes);
}

#[test]
fn converts_to_the_v5_image_of_the_spec() {
    let Some((_, bytes)) = real_file() else {
        return;
    };
    let map = ExtentMap::parse(&bytes).unwrap();
    let v5 = map.encode(EmVersion::V5);
    assert_eq!(v5.len(), 4748);
    assert_eq!(
        hex(&sha256(&v5)),
        "a2c6b261c4421619f50eddb151f504a6180c8679e859b8337c45f70a28537289"
    );
    // And the V5 image reads back to the same records.
    assert_eq!(ExtentMap::parse(&v5).unwrap().extents, map.extents);
    // FL[0] at 0x0f6c.
    assert_eq!(
        &v5[0x0f6c..0x0f6c + 12],
        &[0x00, 0x94, 0x03, 0, 0, 0, 0, 0, 0x1b, 0xff, 0xff, 0x03]
    );
}

// ---------------------------------------------------------------------------------------------
// SHA-256 (FIPS 180-4), small and self-checked below, so the test needs no extra dependency.

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

#[test]
fn sha256_matches_the_fips_vectors() {
    assert_eq!(
        hex(&sha256(b"")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex(&sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(&sha256(
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        )),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
}

/// The CI rule: an absent real file skips a test on a developer's machine and fails it in CI.
#[test]
fn an_absent_real_file_skips_locally_and_fails_under_ci() {
    assert_eq!(real_support::real_under("no-such-file.cdf", false), None);
    let in_ci = std::panic::catch_unwind(|| real_support::real_under("no-such-file.cdf", true));
    let msg = in_ci.expect_err("must fail under CI=true");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("CI=true") && msg.contains("no-such-file.cdf"),
        "{msg}"
    );
}
