//! Special functions (to be written).
