//! Segment data files: paths, compressed and uncompressed layouts, blocks, dictionaries,
//! tokens and the NULL/EMPTY markers (segment spec §1–§6).
