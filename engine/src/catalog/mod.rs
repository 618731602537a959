//! The system catalog (SYSTABLE / SYSCOLUMN): layout, reader and token checks (catalog spec).
