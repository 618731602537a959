//! The extent-map save file `BRM_saves_em` (extent-map spec §1–§3, §5).
