//! Simulated parts of a Weft deployment that speak the real protocols to real control planes:
//! a zone federating with weft-global ([`zone`]) and a synthetic mesh of many services with
//! their traffic ([`mesh`]). Tests and benchmarks use them; no product binary does.

pub mod mesh;
pub mod proxies;
pub mod zone;
