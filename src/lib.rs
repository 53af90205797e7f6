//! vprog.
