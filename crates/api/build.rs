//! Compiles the protobuf contracts with protox (pure Rust), so no system protoc is needed.

fn main() {
    #[cfg(feature = "grpc")]
    compile_protos();
}

#[cfg(feature = "grpc")]
fn compile_protos() {
    let files = ["proto/weft/v1/sync.proto", "proto/weft/v1/dataplane.proto"];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    println!("cargo:rerun-if-changed=proto/weft/v1/common.proto");
    let descriptors = protox::compile(files, ["proto"])
        .unwrap_or_else(|error| panic!("invalid protobuf: {error}"));
    tonic_prost_build::configure()
        .compile_fds(descriptors)
        .unwrap_or_else(|error| panic!("protobuf code generation failed: {error}"));
}
