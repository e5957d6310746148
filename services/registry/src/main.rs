//! The registry service binary.

#[global_allocator]
static ALLOCATOR: ocop_kit::Allocator = ocop_kit::Allocator;

fn main() -> std::process::ExitCode {
    ocop_kit::cli::service_main(ocop_registry::spec(), ocop_registry::routes)
}
