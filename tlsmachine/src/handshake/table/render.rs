//! Draws the state tables.
