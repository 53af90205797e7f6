//! Parser (to be written).
