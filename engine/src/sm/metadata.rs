//! The metadata file of one StorageManager logical file (EM §4.6).
//!
//! `<metadata_path>/<path without its common prefix>.meta` (MetadataFile.cpp:125) is a JSON
//! document listing the objects the file is made of, in offset order:
//!
//! | field | meaning |
//! |---|---|
//! | `version` | always 1 (MetadataFile.cpp:114, 208) |
//! | `revision` | bumped by StorageManager; not used here |
//! | `objects[].offset` | where the object starts in the logical file |
//! | `objects[].length` | how many bytes of the logical file it holds |
//! | `objects[].key` | `<uuid>_<offset>_<length>_<path with / as ~>` (MetadataFile.cpp:401-418) |
//!
//! StorageManager writes it with boost's `write_json`, which quotes every value as a string
//! (storage-manager/test_data/BRM_saves_em.meta); numbers written as JSON numbers are accepted too.
//!
//! ```
//! use emengine::sm::metadata::MetadataFile;
//! let text = br#"{ "version": "1", "revision": "3", "objects": [
//!     { "offset": "0", "length": "68332", "key": "e7a8_0_3436_~data1~systemFiles~dbrm~BRM_saves_em" } ] }"#;
//! let m = MetadataFile::parse(text).unwrap();
//! assert_eq!(m.objects[0].length, 68332);
//! assert_eq!(m.len(), 68332);
//! ```

use crate::error::DecodeError;
use serde_json::Value;

/// One object of a logical file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataObject {
    pub offset: u64,
    pub length: u64,
    pub key: String,
}

/// A parsed `.meta` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataFile {
    pub version: u64,
    pub revision: u64,
    /// The objects as listed (StorageManager keeps them in offset order).
    pub objects: Vec<MetadataObject>,
}

impl MetadataFile {
    /// Parse the bytes of a `.meta` file. Errors carry the byte offset of a JSON syntax error,
    /// or offset 0 with the field for a document of the wrong shape.
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
            DecodeError::invalid(
                byte_offset(bytes, e.line(), e.column()),
                "metadata JSON",
                "a JSON document",
                e,
            )
        })?;
        let version = number(&doc, "version", "version")?;
        if version != 1 {
            return Err(DecodeError::invalid(0, "metadata version", "1", version));
        }
        let revision = number(&doc, "revision", "revision")?;
        let list = match doc.get("objects") {
            Some(Value::Array(a)) => a.as_slice(),
            // boost's write_json writes an empty child as "".
            Some(Value::String(s)) if s.is_empty() => &[],
            other => {
                return Err(DecodeError::invalid(
                    0,
                    "metadata objects",
                    "an array",
                    describe(other),
                ))
            }
        };
        let objects = list
            .iter()
            .map(|o| {
                let key = match o.get("key") {
                    Some(Value::String(k)) if !k.is_empty() => k.clone(),
                    other => {
                        return Err(DecodeError::invalid(
                            0,
                            "metadata object key",
                            "a non-empty string",
                            describe(other),
                        ))
                    }
                };
                Ok(MetadataObject {
                    offset: number(o, "offset", "metadata object offset")?,
                    length: number(o, "length", "metadata object length")?,
                    key,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MetadataFile {
            version,
            revision,
            objects,
        })
    }

    /// The logical file's length as StorageManager reports it: the end of the last object
    /// (MetadataFile.cpp:228-239).
    pub fn len(&self) -> u64 {
        self.objects
            .last()
            .map_or(0, |o| o.offset.saturating_add(o.length))
    }

    /// Whether the file has no objects.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The document as StorageManager writes it: boost's `write_json` layout, every value a
    /// string, 4-space indent, fields in StorageManager's order (MetadataFile.cpp:208-210, 311-313).
    pub fn to_json(&self) -> Vec<u8> {
        let q = |s: &str| serde_json::Value::from(s).to_string();
        let mut out = format!(
            "{{\n    \"version\": \"{}\",\n    \"revision\": \"{}\",\n    \"objects\": [",
            self.version, self.revision
        );
        for (i, o) in self.objects.iter().enumerate() {
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            out.push_str(&format!(
                "        {{\n            \"offset\": \"{}\",\n            \"length\": \"{}\",\n            \"key\": {}\n        }}",
                o.offset,
                o.length,
                q(&o.key)
            ));
        }
        out.push_str(if self.objects.is_empty() {
            "]\n}\n"
        } else {
            "\n    ]\n}\n"
        });
        out.into_bytes()
    }
}

/// The key StorageManager gives a new object (MetadataFile.cpp:401-418): `uuid`, the offset,
/// the length, and the path the caller used with every `/` turned into `~`.
pub fn object_key(uuid: &str, offset: u64, length: u64, source: &str) -> String {
    format!("{uuid}_{offset}_{length}_{}", source.replace('/', "~"))
}

/// A non-negative integer given as a JSON number or a string of digits.
fn number(doc: &Value, name: &str, field: &'static str) -> Result<u64, DecodeError> {
    let v = doc.get(name);
    let parsed = match v {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| DecodeError::invalid(0, field, "a non-negative integer", describe(v)))
}

fn describe(v: Option<&Value>) -> String {
    match v {
        None => "nothing".into(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 60 {
                format!("{}…", s.chars().take(60).collect::<String>())
            } else {
                s
            }
        }
    }
}

/// serde_json reports 1-based line and column; turn them into a byte offset.
fn byte_offset(bytes: &[u8], line: usize, column: usize) -> u64 {
    let mut offset = 0usize;
    for (i, l) in bytes.split(|&b| b == b'\n').enumerate() {
        if i + 1 == line {
            return (offset + column.saturating_sub(1).min(l.len())) as u64;
        }
        offset += l.len() + 1;
    }
    bytes.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeKind;
    use proptest::prelude::*;

    #[test]
    fn upstream_test_data_parses() {
        // storage-manager/test_data/BRM_saves_em.meta, verbatim.
        let text = b"{\n    \"version\": \"1\",\n    \"revision\": \"1\",\n    \"objects\": [\n        {\n            \"offset\": \"0\",\n            \"length\": \"68332\",\n            \"key\": \"e7a81ca3-0af8-48cc-b224-0f59c187e0c1_0_3436_~home~patrick~mariadb~columnstore~data1~systemFiles~dbrm~BRM_saves_em\"\n        }\n    ]\n}\n";
        let m = MetadataFile::parse(text).unwrap();
        assert_eq!(m.revision, 1);
        assert_eq!(
            m.objects,
            vec![MetadataObject {
                offset: 0,
                length: 68332,
                key: "e7a81ca3-0af8-48cc-b224-0f59c187e0c1_0_3436_~home~patrick~mariadb~columnstore~data1~systemFiles~dbrm~BRM_saves_em".into()
            }]
        );
        assert_eq!(m.to_json(), text.to_vec());
    }

    #[test]
    fn corrupt_documents_are_refused_with_their_place() {
        let e = MetadataFile::parse(b"{\n  \"version\": \"1\",\n  oops }").unwrap_err();
        assert_eq!(e.offset, 22);
        assert!(matches!(
            e.kind,
            DecodeKind::Invalid {
                field: "metadata JSON",
                ..
            }
        ));
        let e = MetadataFile::parse(
            br#"{"version":"1","revision":"1","objects":[{"offset":"-4","length":"1","key":"k"}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "at byte 0: invalid metadata object offset: expected a non-negative integer, found \"-4\""
        );
        let e = MetadataFile::parse(br#"{"version":"2","revision":"1","objects":[]}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "at byte 0: invalid metadata version: expected 1, found 2"
        );
        let e = MetadataFile::parse(
            br#"{"version":"1","revision":"1","objects":[{"offset":"0","length":"1"}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("metadata object key"), "{e}");
        let e = MetadataFile::parse(br#"{"version":"1","revision":"1"}"#).unwrap_err();
        assert!(e.to_string().contains("metadata objects"), "{e}");
    }

    #[test]
    fn object_keys_follow_metadatafile_cpp() {
        assert_eq!(
            object_key("u", 10, 20, "data1/000.dir/FILE000.cdf"),
            "u_10_20_data1~000.dir~FILE000.cdf"
        );
    }

    proptest! {
        #[test]
        fn written_metadata_reads_back(
            revision in 1u64..1000,
            objs in proptest::collection::vec((any::<u64>(), any::<u64>(), "[a-z0-9~._-]{1,40}"), 0..8),
        ) {
            let m = MetadataFile {
                version: 1,
                revision,
                objects: objs.into_iter().map(|(offset, length, key)| MetadataObject { offset, length, key }).collect(),
            };
            prop_assert_eq!(MetadataFile::parse(&m.to_json()).unwrap(), m);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = MetadataFile::parse(&bytes);
        }
    }
}
