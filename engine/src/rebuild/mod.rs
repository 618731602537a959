//! Rebuild: walk → plan → scan → merge → place → write.
