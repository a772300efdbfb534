pub mod apply;
pub mod audit;
pub mod graphql;
pub mod login;
pub mod members;
pub mod mesh;
pub mod meshes;
pub mod tokens;
