pub mod apply;
pub mod login;
pub mod mesh;
pub mod meshes;
