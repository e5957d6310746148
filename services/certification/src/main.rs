//! The certification service binary.

fn main() -> std::process::ExitCode {
    ocop_kit::cli::service_main(ocop_certification::spec(), ocop_certification::routes)
}
