//! Samplers (to be written).
