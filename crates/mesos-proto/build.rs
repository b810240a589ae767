//! Compiles `proto/**/*.proto` with protox (no `protoc` needed) into one
//! `FileDescriptorSet` that the crate embeds; the transcoder reads message
//! shapes from it at run time.

use std::path::PathBuf;

const FILES: &[&str] = &[
    "mesos/v1/mesos.proto",
    "mesos/v1/scheduler/scheduler.proto",
    "mesos/v1/executor/executor.proto",
    "mesos/v1/allocator/allocator.proto",
    "mesos/v1/maintenance/maintenance.proto",
    "mesos/v1/quota/quota.proto",
    "mesos/v1/master/master.proto",
    "mesos/v1/agent/agent.proto",
];

fn main() {
    println!("cargo:rerun-if-changed=proto");
    let mut compiler = match protox::Compiler::new(["proto"]) {
        Ok(c) => c,
        Err(e) => panic!("protox: {e:?}"),
    };
    compiler.include_imports(true);
    if let Err(e) = compiler.open_files(FILES) {
        panic!("compiling the .proto files failed: {e:?}");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    std::fs::write(
        out.join("mesos_v1.bin"),
        compiler.encode_file_descriptor_set(),
    )
    .expect("writing the descriptor set");
}
