//! The registry service binary.

fn main() -> std::process::ExitCode {
    ocop_kit::cli::service_main(ocop_registry::spec(), ocop_registry::routes)
}
