//! The promotion service binary.

fn main() -> std::process::ExitCode {
    ocop_kit::cli::service_main(ocop_promotion::spec(), ocop_promotion::routes)
}
