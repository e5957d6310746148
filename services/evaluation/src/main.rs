//! The evaluation service binary.

fn main() -> std::process::ExitCode {
    ocop_kit::cli::service_main(ocop_evaluation::spec(), ocop_evaluation::routes)
}
