//! Columnstore.xml: the DBRoots and the DBRMRoot prefix.
